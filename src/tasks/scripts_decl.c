/*
 * scripts_decl.c: script tasks (io.kestra.plugin.scripts.<language>.Commands and
 * .Script) and task runners (where a script runs: a local process, a Docker
 * container).
 *
 * Every language shares the properties of Kestra's AbstractExecScript
 * (beforeCommands, interpreter, env, inputFiles, outputFiles, namespaceFiles,
 * taskRunner, containerImage, ...); a language adds its default image and, for
 * Python, its dependencies. Commands takes `commands` (a list run one after
 * the other), Script takes `script` (one inline program). The old core
 * scripts (io.kestra.core.tasks.scripts.Bash/Python/Node, before 0.10) have
 * different properties and are declared apart, deprecated.
 */
#include "tasks/tasks_int.h"

static const prop_def docker_credentials[] = {
    PSTR("registry", 0, NULL, "the registry's host"),
    PSTR("username", 0, NULL, "user name"),
    PSTR("password", 0, NULL, "password"),
    PSTR("registryToken", 0, NULL, "registry token"),
    PSTR("identityToken", 0, NULL, "identity token"),
    PSTR("auth", 0, NULL, "base64 of user:password"),
    {0},
};

/* What DockerOptions (the deprecated `docker` property) and the Docker task
 * runner share. */
#define P_DOCKER_COMMON                                                                    \
    PSTR("host", 0, NULL, "Docker daemon URL (default: the local socket)"),                \
    PANY("config", 0, NULL, "Docker config.json content (map or JSON string)"),            \
    POBJ("credentials", 0, NULL, docker_credentials, "registry credentials"),              \
    PSTR("user", 0, NULL, "user inside the container"),                                    \
    PSTRL("entryPoint", 0, NULL, "the container's entry point"),                           \
    PSTRL("extraHosts", 0, NULL, "extra /etc/hosts entries"),                              \
    PSTR("networkMode", 0, NULL, "the container's network mode"),                          \
    PSTRL("volumes", 0, NULL, "host:container volume bindings"),                           \
    PENUM("pullPolicy", 0, "\"IF_NOT_PRESENT\"", ENUMS("IF_NOT_PRESENT", "ALWAYS", "NEVER"), \
          "when to pull the image"),                                                       \
    PLIST("deviceRequests", 0, NULL, &tasks__item_any, "device requests (GPUs)"),          \
    POBJ("cpu", 0, NULL, PROPS(PNUM("cpus", 0, NULL, "CPUs available")), "CPU limits"),    \
    PMAP("memory", 0, NULL, &tasks__item_any,                                              \
         "memory limits: memory, memorySwap, memorySwappiness, memoryReservation, "        \
         "kernelMemory, oomKillDisable"),                                                  \
    PSTR("shmSize", 0, NULL, "size of /dev/shm"),                                          \
    PBOOL("privileged", 0, "false", "run the container privileged"),                       \
    PSTRL("portBindings", 0, NULL, "port bindings")

static const prop_def docker_options[] = {
    PSTR("image", 0, NULL, "the image (default: containerImage)"),
    P_DOCKER_COMMON,
    {0},
};

#define P_SCRIPT_COMMON(image)                                                             \
    PSTRL("beforeCommands", 0, NULL, "commands run first, e.g. to install dependencies"),  \
    PLIST("interpreter", 0, "[\"/bin/sh\",\"-c\"]", &tasks__item_string,                   \
          "the interpreter the commands are handed to"),                                   \
    PMAP("env", 0, NULL, &tasks__item_string, "environment variables"),                    \
    PANY("inputFiles", 0, NULL,                                                            \
         "files to create in the working folder: map of name to content, or JSON string"), \
    PSTRL("outputFiles", 0, NULL, "glob patterns of files to keep as outputs"),            \
    POBJ("namespaceFiles", 0, NULL, tasks__namespace_files, "inject the namespace's files"), \
    PBOOL("warningOnStdErr", 0, "true", "end in WARNING when something is written to stderr"), \
    PBOOL("failFast", 0, "true", "stop at the first failing command (set -e)"),            \
    PPLUGIN("taskRunner", 0, TK_RUNNER, "where the script runs (default: runner.process)"), \
    PSTR("containerImage", 0, "\"" image "\"", "image used by container task runners"),   \
    PENUM("targetOS", 0, "\"AUTO\"", ENUMS("LINUX", "WINDOWS", "AUTO"),                    \
          "OS the commands are written for"),                                              \
    POBJ("docker", PF_DEPRECATED, NULL, docker_options,                                    \
         "Docker options (use taskRunner: runner.docker)"),                                \
    PENUM("runner", PF_DEPRECATED, NULL, ENUMS("PROCESS", "DOCKER"),                       \
          "where the script runs (use taskRunner)"),                                       \
    PBOOL("outputDirectory", PF_DEPRECATED, "false",                                       \
          "expose an output folder (use outputFiles)")

#define P_COMMANDS PSTRL("commands", PF_REQUIRED | PF_NONEMPTY, NULL, "the commands, run in order")
#define P_SCRIPT PSTR("script", PF_REQUIRED, NULL, "the inline script")

#define P_PYTHON                                                                           \
    PSTRL("dependencies", 0, NULL, "pip packages installed before running"),               \
    PBOOL("dependencyCacheEnabled", 0, "true", "cache the installed dependencies"),        \
    PSTR("pythonVersion", 0, NULL, "Python version to install the dependencies for"),    \
    PENUM("packageManager", 0, "\"UV\"", ENUMS("UV", "PIP"), "installs the dependencies")

/* The two types of a language: script.<lang> (Commands) and
 * script.<lang>_script (Script). */
#define LANG(lang, pkg, label, image, ...)                                                 \
    {                                                                                      \
        .name = "script." lang,                                                            \
        .aliases = ALIASES("io.kestra.plugin.scripts." pkg ".Commands"),                   \
        .desc = "Run " label " commands in a process or a container.",                     \
        .props = PROPS(P_COMMANDS, P_SCRIPT_COMMON(image), ##__VA_ARGS__),                 \
    },                                                                                     \
    {                                                                                      \
        .name = "script." lang "_script",                                                  \
        .aliases = ALIASES("io.kestra.plugin.scripts." pkg ".Script"),                     \
        .desc = "Run an inline " label " script in a process or a container.",             \
        .props = PROPS(P_SCRIPT, P_SCRIPT_COMMON(image), ##__VA_ARGS__),                   \
    }

/* The pre-0.10 core scripts. */
#define P_LEGACY_SCRIPT(interp)                                                            \
    PSTR("interpreter", 0, "\"" interp "\"", "the interpreter"),                           \
    PSTRL("interpreterArgs", 0, "[\"-c\"]", "the interpreter's arguments"),                \
    PBOOL("exitOnFailed", 0, "true", "stop at the first failing command"),                 \
    PSTRL("files", PF_DEPRECATED, NULL, "output files (use outputFiles)"),                 \
    PANY("inputFiles", 0, NULL, "files to create: map of name to content"),                \
    PSTRL("outputFiles", 0, NULL, "output file names"),                                    \
    PSTRL("outputsFiles", PF_DEPRECATED, NULL, "use outputFiles"),                         \
    PSTRL("outputDirs", 0, NULL, "output folder names"),                                   \
    PMAP("env", 0, NULL, &tasks__item_string, "environment variables"),                    \
    PBOOL("warningOnStdErr", 0, "true", "WARNING when something is written to stderr"),    \
    PENUM("runner", 0, "\"PROCESS\"", ENUMS("PROCESS", "DOCKER"), "where it runs"),        \
    POBJ("dockerOptions", 0, NULL, docker_options, "Docker options")

const type_def tasks__scripts[] = {
    LANG("shell", "shell", "shell", "ubuntu"),
    LANG("python", "python", "Python", "ghcr.io/kestra-io/kestrapy:latest", P_PYTHON),
    LANG("node", "node", "Node.js", "node"),
    LANG("powershell", "powershell", "PowerShell", "mcr.microsoft.com/powershell"),
    LANG("r", "r", "R", "r-base"),
    LANG("julia", "julia", "Julia", "julia"),
    LANG("ruby", "ruby", "Ruby", "ruby"),

    {
        .name = "script.bash_legacy",
        .aliases = ALIASES("io.kestra.core.tasks.scripts.Bash"),
        .flags = TF_DEPRECATED,
        .desc = "Run shell commands (the pre-0.10 core task; use script.shell).",
        .props = PROPS(P_COMMANDS, P_LEGACY_SCRIPT("/bin/sh")),
    },
    {
        .name = "script.python_legacy",
        .aliases = ALIASES("io.kestra.core.tasks.scripts.Python"),
        .flags = TF_DEPRECATED,
        .desc = "Run Python (the pre-0.10 core task; use script.python).",
        .props = PROPS(PSTRL("commands", 0, "[\"./bin/python main.py\"]", "the commands"),
                       P_LEGACY_SCRIPT("/bin/sh"),
                       PSTR("pythonPath", 0, "\"python\"", "the Python interpreter"),
                       PSTRL("requirements", 0, NULL, "pip requirements"),
                       PBOOL("virtualEnv", 0, "true", "create a virtualenv with the requirements"),
                       PENUM("packageManager", 0, "\"PIP\"", ENUMS("UV", "PIP"),
                             "installs the requirements"),
                       PSTRL("args", 0, NULL, "arguments of main.py")),
    },
    {
        .name = "script.node_legacy",
        .aliases = ALIASES("io.kestra.core.tasks.scripts.Node"),
        .flags = TF_DEPRECATED,
        .desc = "Run Node.js (the pre-0.10 core task; use script.node).",
        .props = PROPS(PSTRL("commands", 0, "[\"node main.js\"]", "the commands"),
                       P_LEGACY_SCRIPT("/bin/sh"),
                       PSTR("nodePath", 0, "\"node\"", "the node binary"),
                       PSTR("npmPath", 0, "\"npm\"", "the npm binary"),
                       PSTRL("args", 0, NULL, "arguments of main.js")),
    },

    /* ---- task runners ---- */
    {
        .name = "runner.process",
        .aliases = ALIASES("io.kestra.plugin.core.runner.Process",
                           "io.kestra.core.models.tasks.runners.types.ProcessTaskRunner"),
        .kind = TK_RUNNER,
        .desc = "Run the script as a local child process (the default).",
        .props = NO_PROPS,
    },
    {
        .name = "runner.docker",
        .aliases = ALIASES("io.kestra.plugin.scripts.runner.docker.Docker",
                           "io.kestra.plugin.scripts.runner.docker.DockerTaskRunner"),
        .kind = TK_RUNNER,
        .desc = "Run the script in a Docker container of the task's containerImage.",
        .props = PROPS(P_DOCKER_COMMON,
                       PENUM("fileHandlingStrategy", 0, "\"VOLUME\"", ENUMS("VOLUME", "MOUNT"),
                             "how files reach the container"),
                       PBOOL("delete", 0, "true", "delete the container when done"),
                       PBOOL("resume", 0, "true", "re-attach to a running container on restart"),
                       PBOOL("wait", 0, "true", "wait for the container to end"),
                       PDUR("killGracePeriod", 0, "\"PT0S\"",
                            "on kill, time the container gets to stop"),
                       PSTR("image", PF_DEPRECATED, NULL, "the image (use containerImage)")),
    },
};

const size_t tasks__scripts_count = sizeof tasks__scripts / sizeof tasks__scripts[0];
