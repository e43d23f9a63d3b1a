/*
 * ssh_int.h: what the SSH family files share (ssh.c: the connection and
 * io.kestra.plugin.fs.ssh.Command; sftp.c: the SFTP tasks). Nobody else
 * includes it: the rest of kite never names libssh.
 *
 * A task opens one connection (tasks__ssh_open) from its own properties,
 * runs what it has to over it and closes it (tasks__ssh_close). The two
 * property spellings Kestra uses are both read: the Command's
 * `privateKey`/`privateKeyPassphrase` and the SFTP tasks' `keyfile`/
 * `passphrase` (both hold the key's text, not a path). Every password, key
 * and passphrase is registered with the engine's masking before it is used.
 */
#ifndef KITE_TASKS_SSH_INT_H
#define KITE_TASKS_SSH_INT_H

#include "tasks/tasks_int.h"

#include "util/dl_ssh.h"

/* The connection properties every SSH and SFTP type declares (host, port,
 * username, password, the key in both spellings, host key checking). */
#define P_SSH_CONN                                                                            \
    PSTR("host", PF_REQUIRED, NULL, "the remote host"),                                       \
    PSTR("port", 0, "\"22\"", "the remote port"),                                                 \
    PSTR("username", 0, NULL, "the user to log in as"),                                       \
    PSTR("password", 0, NULL, "the password (PASSWORD authentication)"),                      \
    PSTR("strictHostKeyChecking", 0, "\"no\"",                                                    \
         "check the host key against knownHosts: yes (or ask) refuses an unknown or changed " \
         "key; no accepts any"),                                                              \
    PSTR("knownHosts", 0, NULL,                                                               \
         "kite: known_hosts lines to check the host key against (default ~/.ssh/known_hosts)"), \
    PSTR("proxyCommand", 0, NULL, "a local command that carries the connection (OpenSSH ProxyCommand)")

/* Opens an authenticated session from c's properties. key_prop and
 * pass_prop name the private key's properties ("privateKey" and
 * "privateKeyPassphrase", or "keyfile" and "passphrase"); method is
 * "PASSWORD", "PUBLIC_KEY" or "OPEN_SSH", or NULL to pick from what is
 * given (a key, else a password). Returns NULL with e set: the message
 * names the host and what failed (connect, host key, authentication),
 * never a secret. */
ssh_session tasks__ssh_open(task_ctx *c, const char *key_prop, const char *pass_prop, const char *method,
                            kerr *e);
/* Disconnects and frees s (NULL does nothing). */
void tasks__ssh_close(ssh_session s);

#endif
