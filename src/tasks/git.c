/*
 * git.c: the Git family on libgit2: git.clone (io.kestra.plugin.git.Clone),
 * git.sync_flows (SyncFlows), git.sync_namespace_files (SyncNamespaceFiles),
 * git.push_flows (PushFlows), git.push_namespace_files (PushNamespaceFiles)
 * and git.push (Push), and tasks_flow_sync (tasks.h), the flow sync that
 * SyncFlows and `kite flow sync` share.
 *
 * The push tasks clone the branch into a temporary folder (a branch the
 * remote lacks is made from its HEAD, or is the first commit of an empty
 * repository), write what they push, stage it (PushFlows and
 * PushNamespaceFiles also stage removals when `delete`), commit with the
 * author given and push; nothing changed means no commit and no push.
 *
 * A sync reads every *.yml / *.yaml file of a folder (and of its subfolders
 * with includeChildNamespaces, each subfolder a child namespace: _flows/a/b
 * goes to <targetNamespace>.a.b), rewrites the file's first `namespace:`
 * line to that namespace, as Kestra's SyncFlows does, validates it, and
 * stores it as a new revision when it changed. A file that does not
 * validate is reported with file:line:col and skipped; the others still
 * sync. With `delete`, flows of the namespace (and its children, with
 * includeChildNamespaces) that no file names are deleted, except the flow
 * running the sync. dryRun reports what would change and writes nothing.
 *
 * DESIGN
 * The flow store belongs to the engine, above this layer: a task stores a
 * flow through the optional task_ctx_ops.flow_put hook (the engine's
 * engine_flow_put: validation, revisions, the webhook index), and the CLI
 * passes engine_flow_put itself. Reading and deleting go to the store
 * directly (store.h is below). A running server on the same store sees the
 * new revisions: its API reads the store, and its scheduler re-reads flows
 * every few seconds.
 *
 * Credentials: username/password (a token) over HTTPS, or privateKey (the
 * key's text, written to a 0600 temporary file for libssh2 and removed
 * after the clone) over SSH; both are registered with the masking. SSH host
 * keys are accepted, as Kestra's default does, unless strictHostKeyChecking
 * (kite's, as the SSH tasks): then cert_cb checks libgit2's raw host key
 * against knownHosts or ~/.ssh/known_hosts with libssh's known_hosts parser
 * (hashed names, [host]:port), and a changed or unknown key is refused.
 *
 * HTTPS certificates: libgit2 checks them against the system's CA store
 * (Debian's libgit2 uses mbedTLS and /etc/ssl/certs/ca-certificates.crt).
 * trustedCaPemPath (Kestra's property: a PEM bundle added to the system's
 * trust) is checked by cert_cb when libgit2 found the server's certificate
 * invalid: the leaf libgit2 hands over must chain to a CA of the file and
 * name the host (gnutls). The setting is per task: libgit2's own CA option
 * is process-wide, and tasks of other flows run beside this one.
 */
#include "tasks/tasks_int.h"

#include "flow/flow.h"
#include "util/base64.h"
#include "util/dl_git2.h"
#include "util/dl_ssh.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/ion.h"
#include "util/netguard.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLOW_FILE_MAX (4u << 20)

/* ---- cloning ------------------------------------------------------------------------------ */

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
    git_libgit2_init();
}

/* libgit2 and libssh (host keys), loaded on first use (util/dl.h): NULL when
 * both are there, else why not. */
static const char *git_needs(void)
{
    const char *why = dl_git2_load();
    return why ? why : dl_ssh_load();
}

/* git_needs, then libgit2's own initialisation: 0, or -1 with e set. */
static int git_start(kerr *e)
{
    const char *why = git_needs();
    if (why)
        return kerr_setc(e, KERR_UNAVAILABLE, "%s", why);
    pthread_once(&git_once, git_init_once);
    return 0;
}

typedef struct gauth {
    const char *user, *pass, *keyfile, *passphrase;
    int tries, key_tried, pass_tried, refused;
    int strict;               /* strictHostKeyChecking: check SSH host keys */
    const char *known_hosts;  /* knownHosts' text, or NULL: ~/.ssh/known_hosts */
    const char *url;          /* for the port of an ssh:// URL */
    const char *kh_what;      /* how messages name known_hosts (NULL: property 'knownHosts') */
    char *host_err;           /* why a host key was refused (freed by the owner) */
    const char *ca_file;      /* trustedCaPemPath, or NULL: the system's CA store only */
    const char *ca_what;      /* how messages name it (NULL: property 'trustedCaPemPath') */
} gauth;

static int cred_cb(git_credential **out, const char *url, const char *user_from_url, unsigned int allowed, void *payload)
{
    gauth *a = payload;
    /* asked again for what was already offered: it was refused (an sshd
     * drops the connection after a few tries, so never loop) */
    if (++a->tries > 4) {
        a->refused = 1;
        return GIT_EUSER;
    }
    const char *user = a->user && *a->user ? a->user : user_from_url && *user_from_url ? user_from_url : "git";
    if ((allowed & GIT_CREDENTIAL_USERNAME) && !(allowed & ~GIT_CREDENTIAL_USERNAME))
        return git_credential_username_new(out, user);
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && a->keyfile) {
        if (a->key_tried++) {
            a->refused = 1;
            return GIT_EUSER;
        }
        return git_credential_ssh_key_new(out, user, NULL, a->keyfile, a->passphrase ? a->passphrase : "");
    }
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && a->pass) {
        if (a->pass_tried++) {
            a->refused = 1;
            return GIT_EUSER;
        }
        return git_credential_userpass_plaintext_new(out, user, a->pass);
    }
    a->refused = 1;
    return GIT_EUSER;
}

/* The port of an ssh:// URL (22 when none, and for scp-like host:path). */
static int url_port(const char *url)
{
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p)
        return 22;
    p += 3;
    const char *end = p + strcspn(p, "/");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    if (*p == '[') {
        p = memchr(p, ']', (size_t)(end - p));
        if (!p)
            return 22;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    int port = colon ? atoi(colon + 1) : 22;
    return port > 0 && port < 65536 ? port : 22;
}

static enum ssh_keytypes_e raw_key_type(git_cert_ssh_raw_type_t t)
{
    switch (t) {
    case GIT_CERT_SSH_RAW_TYPE_RSA: return SSH_KEYTYPE_RSA;
    case GIT_CERT_SSH_RAW_TYPE_DSS: return SSH_KEYTYPE_DSS;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return SSH_KEYTYPE_ECDSA_P256;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return SSH_KEYTYPE_ECDSA_P384;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return SSH_KEYTYPE_ECDSA_P521;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return SSH_KEYTYPE_ED25519;
    default: return SSH_KEYTYPE_UNKNOWN;
    }
}

static char *key_fingerprint(ssh_key k)
{
    unsigned char *h = NULL;
    size_t hl = 0;
    char *out = NULL;
    if (ssh_get_publickey_hash(k, SSH_PUBLICKEY_HASH_SHA256, &h, &hl) == 0) {
        char *f = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, h, hl);
        if (f) {
            out = xstrdup(f);
            ssh_string_free_char(f);
        }
        ssh_clean_pubkey_hash(&h);
    }
    return out ? out : xstrdup("?");
}

/* strictHostKeyChecking for SSH remotes, as the SSH tasks do it: the server's
 * key must be in the known hosts (knownHosts, else ~/.ssh/known_hosts) under
 * "host", or "[host]:port" off port 22; a key that changed, one of another
 * type only, or a host not there is refused. 0, or -1 with a->host_err. */
static int check_git_host_key(gauth *a, const git_cert_hostkey *hk, const char *host)
{
    const char *what = !a->known_hosts ? "~/.ssh/known_hosts" : a->kh_what ? a->kh_what : "property 'knownHosts'";
    if (!(hk->type & GIT_CERT_SSH_RAW) || raw_key_type(hk->raw_type) == SSH_KEYTYPE_UNKNOWN) {
        a->host_err = xasprintf("%s: the host key cannot be checked (its type is unknown): refused "
                                "(strictHostKeyChecking)", host);
        return -1;
    }
    ssh_key k = NULL;
    char *b64 = base64_encode(hk->hostkey, hk->hostkey_len);
    int irc = ssh_pki_import_pubkey_base64(b64, raw_key_type(hk->raw_type), &k);
    free(b64);
    if (irc != SSH_OK) {
        a->host_err = xasprintf("%s: the host key cannot be read: refused (strictHostKeyChecking)", host);
        return -1;
    }
    buf text = BUF_INIT;
    if (a->known_hosts) {
        buf_puts(&text, a->known_hosts);
    } else {
        const char *home = getenv("HOME");
        char *path = xasprintf("%s/.ssh/known_hosts", home && *home ? home : "");
        kerr re = KERR_INIT;
        if (fs_read_file(path, 16u << 20, &text, &re))
            buf_reset(&text);
        free(path);
    }
    int port = url_port(a->url);
    char *name = port == 22 ? xstrdup(host) : xasprintf("[%s]:%d", host, port);
    int same = 0, changed = 0, other = 0;
    char *all = buf_steal(&text), *save = NULL;
    for (char *line = all ? strtok_r(all, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#')
            continue;
        struct ssh_knownhosts_entry *en = NULL;
        if (ssh_known_hosts_parse_line(name, line, &en) != SSH_OK || !en) {
            ssh_knownhosts_entry_free(en);
            continue;
        }
        if (ssh_key_type(en->publickey) != ssh_key_type(k))
            other = 1;
        else if (ssh_key_cmp(en->publickey, k, SSH_KEY_CMP_PUBLIC) == 0)
            same = 1;
        else
            changed = 1;
        ssh_knownhosts_entry_free(en);
    }
    free(all);
    int rc = 0;
    if (!same) {
        char *fp = key_fingerprint(k);
        if (changed)
            a->host_err = xasprintf("%s: the host key changed (now %s): refused, it does not match %s "
                                    "(strictHostKeyChecking)", name, fp, what);
        else if (other)
            a->host_err = xasprintf("%s: the host key (%s) is of another type than the one in %s: refused "
                                    "(strictHostKeyChecking)", name, fp, what);
        else
            a->host_err = xasprintf("%s: the host key %s is not in %s: refused (strictHostKeyChecking)", name, fp,
                                    what);
        free(fp);
        rc = -1;
    }
    free(name);
    ssh_key_free(k);
    return rc;
}

/* An HTTPS server's certificate that the system's CA store does not trust
 * (libgit2 said invalid): NULL when it chains to a CA of trustedCaPemPath and
 * names host, else why not (the caller frees it). libgit2 gives the leaf
 * only, so the file must hold the CA that signed it (an intermediate is
 * enough). */
static char *check_x509(const gauth *a, const git_cert_x509 *x, const char *host)
{
    const char *what = a && a->ca_what ? a->ca_what : "property 'trustedCaPemPath'";
    if (!a || !a->ca_file)
        return xasprintf("%s: the server's certificate is not trusted by the system's CA store: refused "
                         "(give the CA that signed it in %s)", host, what);
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_crt_t crt = NULL;
    char *why = NULL;
    if (gnutls_x509_trust_list_init(&tl, 0) < 0 || gnutls_x509_crt_init(&crt) < 0) {
        why = xasprintf("%s: cannot check the certificate (gnutls)", host);
        goto out;
    }
    int n = gnutls_x509_trust_list_add_trust_file(tl, a->ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    if (n <= 0) {
        why = xasprintf("%s: %s: %s", what, a->ca_file,
                        n < 0 && n != GNUTLS_E_NO_CERTIFICATE_FOUND ? gnutls_strerror(n)
                                                                   : "no PEM certificate in the file");
        goto out;
    }
    gnutls_datum_t der = {(unsigned char *)x->data, (unsigned)x->len};
    if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0) {
        why = xasprintf("%s: the server's certificate cannot be read: refused", host);
        goto out;
    }
    unsigned status = 0;
    if (gnutls_x509_trust_list_verify_crt(tl, &crt, 1, 0, &status, NULL) < 0 || status) {
        gnutls_datum_t txt = {NULL, 0};
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0);
        for (size_t l = txt.data ? strlen((char *)txt.data) : 0; l && strchr(" .", txt.data[l - 1]); l--)
            txt.data[l - 1] = '\0';
        why = xasprintf("%s: the server's certificate is trusted neither by the system's CA store nor by "
                        "%s (%s): %s: refused", host, what, a->ca_file,
                        txt.data ? (char *)txt.data : "not verified");
        gnutls_free(txt.data);
        goto out;
    }
    if (!gnutls_x509_crt_check_hostname2(crt, host, 0))
        why = xasprintf("%s: the server's certificate (signed by a CA of %s) is for another host name: refused",
                        host, what);
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_trust_list_deinit(tl, 1);
    return why;
}

static int cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
    gauth *a = payload;
    if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
        /* without strictHostKeyChecking the host key is accepted, as
         * Kestra's default does (see the top of the file) */
        if (!a || !a->strict)
            return 0;
        free(a->host_err);
        a->host_err = NULL;
        return check_git_host_key(a, (const git_cert_hostkey *)cert, host) ? GIT_ECERTIFICATE : 0;
    }
    if (cert->cert_type == GIT_CERT_X509 && a) {
        if (valid)
            return 0;
        free(a->host_err);
        a->host_err = check_x509(a, (const git_cert_x509 *)cert, host);
        return a->host_err ? GIT_ECERTIFICATE : 0;
    }
    return valid ? 0 : -1;
}

static int git_url_host(const char *url, char *host, size_t hostsz, int *port);
static int git_guard(const char *url, kerr *e);

/* Whether two Git URLs name the same server (host and port; two local
 * paths count as the same): a submodule gets the task's credentials only
 * then, so a submodule URL cannot make kite hand them to another host. */
static int same_server(const char *a, const char *b)
{
    char ha[256], hb[256];
    int pa, pb;
    int la = git_url_host(a, ha, sizeof ha, &pa), lb = git_url_host(b, hb, sizeof hb, &pb);
    if (la < 0 || lb < 0)
        return 0;
    if (la || lb)
        return la == lb;
    return pa == pb && !strcasecmp(ha, hb);
}

typedef struct subwalk {
    const git_fetch_options *fo;  /* the clone's: callbacks and options */
    gauth *auth;                  /* the task's credentials */
    kerr *e;
    int depth, count, failed;
} subwalk;

/* cloneSubmodules: every submodule of the clone is initialised and cloned
 * at the commit the superproject records, recursively (8 levels at most),
 * each URL resolved (relative ones against the superproject's remote) and
 * put through security.ssrf as the task's own URL is. */
static int submodule_cb(git_submodule *sm, const char *name, void *payload)
{
    subwalk *w = payload;
    git_repository *parent = git_submodule_owner(sm);
    const char *raw = git_submodule_url(sm);
    git_buf abs = {0};
    if (!raw || git_submodule_resolve_url(&abs, parent, raw)) {
        kerr_set(w->e, "submodule '%s': no URL (.gitmodules)", name);
        git_buf_dispose(&abs);
        w->failed = 1;
        return -1;
    }
    /* libgit2 1.5 resolves a relative URL against file:///x as file://x:
     * put the third slash back (file://HOST/ is not a form libgit2 opens) */
    char *url = !strncmp(abs.ptr, "file://", 7) && abs.ptr[7] != '/' ? xasprintf("file:///%s", abs.ptr + 7)
                                                                      : xstrdup(abs.ptr);
    git_buf_dispose(&abs);
    if (git_guard(url, w->e)) {
        kerr_prefix(w->e, "submodule '%s'", name);
        goto bad;
    }
    gauth anon = *w->auth;
    anon.user = anon.pass = anon.keyfile = anon.passphrase = NULL;
    gauth own = *w->auth;
    gauth *a = same_server(url, w->auth->url) ? &own : &anon;
    a->tries = a->key_tried = a->pass_tried = a->refused = 0;
    a->host_err = NULL;
    a->url = url;
    /* the URL checked above is the one fetched: written to the clone's
     * .git/config (never to .gitmodules), then the submodule read again */
    git_config *cfg = NULL;
    git_submodule *sm2 = NULL;
    char *key = xasprintf("submodule.%s.url", name);
    int crc = git_submodule_init(sm, 0) || git_repository_config(&cfg, parent) ||
              git_config_set_string(cfg, key, url) || git_submodule_lookup(&sm2, parent, name);
    git_config_free(cfg);
    free(key);
    if (crc) {
        const git_error *ge = git_error_last();
        kerr_set(w->e, "submodule '%s': %s", name, ge && ge->message ? ge->message : "cannot be initialised");
        git_submodule_free(sm2);
        goto bad;
    }
    git_submodule_update_options uo;
    git_submodule_update_options_init(&uo, GIT_SUBMODULE_UPDATE_OPTIONS_VERSION);
    uo.fetch_opts = *w->fo;
    uo.fetch_opts.callbacks.payload = a;
    int urc = git_submodule_update(sm2, 0, &uo);
    if (urc) {
        const git_error *ge = git_error_last();
        if (a->host_err)
            kerr_set(w->e, "submodule '%s' (%s): %s", name, url, a->host_err);
        else if (a->refused)
            kerr_set(w->e, "submodule '%s' (%s): authentication failed (%s)", name, url,
                     a == &anon ? "another server than the task's url: its credentials are not sent there"
                                : "the credentials were refused");
        else
            kerr_set(w->e, "submodule '%s' (%s): %s", name, url, ge && ge->message ? ge->message : "update failed");
        free(a->host_err);
        git_submodule_free(sm2);
        goto bad;
    }
    free(a->host_err);
    w->count++;
    if (w->depth < 8) {
        git_repository *sub = NULL;
        if (!git_submodule_open(&sub, sm2)) {
            /* nested relative URLs resolve against this submodule's own remote */
            w->depth++;
            git_submodule_foreach(sub, submodule_cb, w);
            w->depth--;
            git_repository_free(sub);
        }
    }
    git_submodule_free(sm2);
    free(url);
    return w->failed ? -1 : 0;
bad:
    free(url);
    w->failed = 1;
    return -1;
}

/* tasks_git_clone with strictHostKeyChecking (strict) and knownHosts (kh, or
 * NULL; kh_what names it in messages, NULL: property 'knownHosts'), and
 * trustedCaPemPath (ca, or NULL; ca_what names it, NULL: the property). */
static int clone_checked(const char *url, const char *branch, const char *user, const char *pass, const char *key,
                         const char *passphrase, const char *tmp_root, const char *dest, int strict, const char *kh,
                         const char *kh_what, const char *ca, const char *ca_what, int submodules, int *nsub,
                         kerr *e)
{
    if (git_start(e))
        return -1;
    gauth a = {user, pass && *pass ? pass : NULL, NULL, passphrase, 0, 0, 0, 0, strict, kh, url, kh_what, NULL, ca,
               ca_what};
    char *kpath = NULL;
    if (key && *key) {
        kpath = xasprintf("%s/kite-git-key-XXXXXX", tmp_root && *tmp_root ? tmp_root : "/tmp");
        int fd = mkstemp(kpath);
        size_t kl = strlen(key);
        int bad = fd < 0 || tasks__write_all(fd, key, kl) || (key[kl - 1] != '\n' && tasks__write_all(fd, "\n", 1));
        if (fd >= 0)
            close(fd);
        if (bad) {
            kerr_set(e, "cannot write the private key to a temporary file: %s", strerror(errno));
            if (fd >= 0)
                unlink(kpath);
            free(kpath);
            return -1;
        }
        a.keyfile = kpath;
    }
    git_clone_options o;
    git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
    if (branch && *branch)
        o.checkout_branch = branch;
    o.fetch_opts.callbacks.credentials = cred_cb;
    o.fetch_opts.callbacks.certificate_check = cert_cb;
    o.fetch_opts.callbacks.payload = &a;
    if (netguard_enabled())
        o.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE; /* the checked host only */
    git_repository *repo = NULL;
    int rc = git_clone(&repo, url, dest, &o);
    if (!rc && submodules) {
        subwalk w = {.fo = &o.fetch_opts, .auth = &a, .e = e};
        git_submodule_foreach(repo, submodule_cb, &w);
        if (nsub)
            *nsub = w.count;
        if (w.failed) {
            if (kpath) {
                unlink(kpath);
                free(kpath);
            }
            git_repository_free(repo);
            return -1;
        }
    }
    if (kpath) {
        unlink(kpath);
        free(kpath);
    }
    if (rc && a.host_err) {
        kerr_set(e, "git clone %s: %s", url, a.host_err);
        free(a.host_err);
        return -1;
    }
    if (rc) {
        const git_error *ge = git_error_last();
        if (a.refused)
            return kerr_set(e, "git clone %s: authentication failed (%s)", url,
                            a.key_tried || a.pass_tried ? "the credentials were refused" : "no credentials given");
        return kerr_set(e, "git clone %s%s%s: %s", url, branch && *branch ? " branch " : "", branch ? branch : "",
                        ge && ge->message ? ge->message : "failed");
    }
    git_repository_free(repo);
    return 0;
}

int tasks_git_clone(const char *url, const char *branch, const char *user, const char *pass, const char *key,
                    const char *passphrase, const char *known_hosts, const char *ca_file, const char *tmp_root,
                    const char *dest, kerr *e)
{
    return clone_checked(url, branch, user, pass, key, passphrase, tmp_root, dest, known_hosts != NULL, known_hosts,
                         "the known hosts given ($KITE_GIT_KNOWN_HOSTS)", ca_file && *ca_file ? ca_file : NULL,
                         "$KITE_GIT_CA_FILE", 0, NULL, e);
}

/* ---- the flow sync (tasks.h) --------------------------------------------------------------- */

/* The source with its first line starting "namespace:" replaced. */
static char *replace_namespace(const char *src, size_t len, const char *ns)
{
    buf b = BUF_INIT;
    const char *p = src, *end = src + len;
    int done = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl + 1 : end;
        if (!done && !strncmp(p, "namespace:", 10)) {
            buf_printf(&b, "namespace: %s\n", ns);
            done = 1;
        } else {
            buf_append(&b, p, (size_t)(le - p));
        }
        p = le;
    }
    if (!done) { /* no namespace line: the validator reports it */
    }
    return buf_steal(&b);
}

typedef struct syncer {
    store *st;
    tasks_flow_put_fn put;
    void *ud;
    const tasks_flow_sync_opts *o;
    json_t *rep, *seen; /* seen: "ns/id" -> true */
    tasks_flow_sync_log_fn log;
    void *log_ud;
    int invalid;
} syncer;

static void say(syncer *s, int warn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(syncer *s, int warn, const char *fmt, ...)
{
    if (!s->log)
        return;
    char m[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    s->log(s->log_ud, warn, m);
}

static void add_row(syncer *s, const char *state, const char *ns, const char *id, int revision, const char *path)
{
    json_t *row = json_pack("{s:s,s:s,s:s,s:i}", "syncState", state, "flowId", id, "namespace", ns, "revision", revision);
    if (path)
        json_object_set_new(row, "gitPath", json_string(path));
    json_array_append_new(json_object_get(s->rep, "flows"), row);
    const char *key = !strcmp(state, "ADDED") ? "added" : !strcmp(state, "UPDATED") ? "updated"
                    : !strcmp(state, "DELETED") ? "deleted" : "unchanged";
    json_array_append_new(json_object_get(s->rep, key), json_sprintf("%s.%s", ns, id));
}

static int sync_file(syncer *s, const char *abs, const char *rel, const char *ns, kerr *e)
{
    buf src = BUF_INIT;
    kerr fe = KERR_INIT;
    if (fs_read_file(abs, FLOW_FILE_MAX, &src, &fe)) {
        say(s, 1, "%s: %s: skipped", rel, fe.msg);
        s->invalid++;
        json_array_append_new(json_object_get(s->rep, "invalid"), json_string(rel));
        buf_free(&src);
        return 0;
    }
    char *text = replace_namespace(buf_str(&src), src.len, ns);
    buf_free(&src);
    size_t tl = strlen(text);
    diags d = DIAGS_INIT;
    flow *fl = NULL;
    if (flow_load_text(text, tl, rel, &fl, &d)) {
        for (size_t i = 0; i < d.n; i++)
            if (!d.v[i].warning)
                say(s, 1, "%s:%d:%d: %s (skipped)", d.v[i].file ? d.v[i].file : rel, d.v[i].line, d.v[i].col,
                    d.v[i].msg);
        s->invalid++;
        json_array_append_new(json_object_get(s->rep, "invalid"), json_string(rel));
        /* the flow a broken file stands for is not deleted: its id is the file's name */
        const char *b = strrchr(rel, '/');
        char *id = xstrdup(b ? b + 1 : rel);
        char *dot = strrchr(id, '.');
        if (dot)
            *dot = '\0';
        char key[512];
        snprintf(key, sizeof key, "%s/%s", ns, id);
        json_object_set_new(s->seen, key, json_true());
        free(id);
        diags_free(&d);
        free(text);
        return 0;
    }
    diags_free(&d);
    char key[512];
    snprintf(key, sizeof key, "%s/%s", fl->namespace, fl->id);
    json_object_set_new(s->seen, key, json_true());
    store_flow cur;
    memset(&cur, 0, sizeof cur);
    kerr ge = KERR_INIT;
    int had = store_flow_get(s->st, fl->namespace, fl->id, 0, &cur, &ge) == 0;
    int before = had ? cur.revision : 0;
    int same = had && cur.source && !strcmp(cur.source, text);
    store_flow_clear(&cur);
    int rc = 0;
    if (s->o->dry_run) {
        add_row(s, !had ? "ADDED" : same ? "UNCHANGED" : "UPDATED", fl->namespace, fl->id, had ? before + !same : 1, rel);
    } else {
        int rev = 0;
        diags pd = DIAGS_INIT;
        if (s->put(s->ud, text, tl, rel, &rev, &pd)) {
            if (pd.n) {
                for (size_t i = 0; i < pd.n; i++)
                    if (!pd.v[i].warning)
                        say(s, 1, "%s:%d:%d: %s (skipped)", pd.v[i].file ? pd.v[i].file : rel, pd.v[i].line,
                            pd.v[i].col, pd.v[i].msg);
                s->invalid++;
                json_array_append_new(json_object_get(s->rep, "invalid"), json_string(rel));
            } else {
                rc = kerr_set(e, "%s: the flow could not be stored", rel);
            }
        } else {
            add_row(s, !had ? "ADDED" : rev == before ? "UNCHANGED" : "UPDATED", fl->namespace, fl->id, rev, rel);
        }
        diags_free(&pd);
    }
    flow_free(fl);
    free(text);
    return rc;
}

static int is_flow_file(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml")));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Syncs folder abs (rel: what messages call it) into namespace ns. */
static int sync_dir(syncer *s, const char *abs, const char *rel, const char *ns, kerr *e)
{
    DIR *d = opendir(abs);
    if (!d)
        return kerr_set(e, "%s: %s", rel, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *pa = xasprintf("%s/%s", abs, names[i]);
        char *pr = xasprintf("%s/%s", rel, names[i]);
        struct stat st;
        if (stat(pa, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (s->o->children) {
                char *cns = xasprintf("%s.%s", ns, names[i]);
                if (flow_valid_namespace(cns))
                    rc = sync_dir(s, pa, pr, cns, e);
                else
                    say(s, 1, "%s: '%s' is not a valid namespace: skipped", pr, cns);
                free(cns);
            }
        } else if (S_ISREG(st.st_mode) && is_flow_file(names[i])) {
            rc = sync_file(s, pa, pr, ns, e);
        }
        free(pa);
        free(pr);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int tasks_flow_sync(store *st, tasks_flow_put_fn put, void *ud, const tasks_flow_sync_opts *o,
                    tasks_flow_sync_log_fn log, void *log_ud, json_t **report, kerr *e)
{
    *report = NULL;
    if (!o->ns || !flow_valid_namespace(o->ns))
        return kerr_set(e, "'%s' is not a valid namespace", o->ns ? o->ns : "");
    struct stat sb;
    if (stat(o->dir, &sb) || !S_ISDIR(sb.st_mode))
        return kerr_set(e, "%s: not a folder", o->dir_name ? o->dir_name : o->dir);
    syncer s = {st, put, ud, o, NULL, json_object(), log, log_ud, 0};
    s.rep = json_pack("{s:[],s:[],s:[],s:[],s:[],s:[]}", "flows", "added", "updated", "deleted", "unchanged", "invalid");
    int rc = sync_dir(&s, o->dir, o->dir_name ? o->dir_name : o->dir, o->ns, e);
    if (!rc && o->del) {
        store_flow_query q = {.ns_prefix = o->ns};
        store_flow *v = NULL;
        size_t n = 0;
        if (store_flow_search(st, &q, &v, &n, NULL, e)) {
            rc = -1;
        } else {
            for (size_t i = 0; i < n && !rc; i++) {
                if (!o->children && strcmp(v[i].namespace, o->ns))
                    continue;
                char key[512];
                snprintf(key, sizeof key, "%s/%s", v[i].namespace, v[i].id);
                if (json_object_get(s.seen, key))
                    continue;
                if (o->keep_ns && o->keep_id && !strcmp(o->keep_ns, v[i].namespace) && !strcmp(o->keep_id, v[i].id))
                    continue;
                if (!o->dry_run && store_flow_delete(st, v[i].namespace, v[i].id, e)) {
                    rc = -1;
                    break;
                }
                add_row(&s, "DELETED", v[i].namespace, v[i].id, v[i].revision, NULL);
            }
            store_flows_free(v, n);
        }
    }
    json_decref(s.seen);
    if (rc) {
        json_decref(s.rep);
        return -1;
    }
    *report = s.rep;
    return 0;
}

/* ---- the tasks ------------------------------------------------------------------------------ */

typedef struct gprops {
    char *url, *branch, *user, *pass, *key, *passphrase;
    int strict;        /* strictHostKeyChecking */
    char *kh;          /* knownHosts */
    char *ca;          /* trustedCaPemPath */
} gprops;

static void gprops_free(gprops *g)
{
    free(g->url), free(g->branch), free(g->user), free(g->pass), free(g->key), free(g->passphrase), free(g->kh), free(g->ca);
}

/* security.ssrf for a task's repository: the URL's host (https://, http://,
 * ssh://, git://, or scp-like user@host:path), every address it resolves
 * to. file:// and local paths open no connection. libgit2 resolves the
 * name again itself; redirects are not followed while the guard is on
 * (tasks_git_clone). */
/* The host and port a Git URL connects to (https://, http://, ssh://,
 * git://, or scp-like user@host:path). 1 for file:// and local paths (no
 * connection), 0 with host set, -1 when no host can be read. */
static int git_url_host(const char *url, char *host, size_t hostsz, int *port)
{
    *port = 22;
    const char *p = strstr(url, "://");
    if (p) {
        size_t sl = (size_t)(p - url);
        if ((sl == 4 && !strncasecmp(url, "file", 4)))
            return 1;
        *port = sl == 5 && !strncasecmp(url, "https", 5) ? 443 : sl == 4 && !strncasecmp(url, "http", 4) ? 80
                : sl == 3 && !strncasecmp(url, "git", 3) ? 9418 : 22;
        p += 3;
    } else {
        if (url[0] == '/' || url[0] == '.' || !strchr(url, ':'))
            return 1; /* a local path */
        p = url;
    }
    size_t auth = strcspn(p, "/");
    const char *at = memchr(p, '@', auth);
    if (at)
        p = at + 1;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        n = strcspn(p, ":/");
    }
    if (!n || n >= hostsz)
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    const char *after = p + n + (p[n] == ']');
    if (strstr(url, "://") && *after == ':' && after[1] >= '0' && after[1] <= '9')
        *port = atoi(after + 1);
    return 0;
}

static int git_guard(const char *url, kerr *e)
{
    if (!netguard_enabled())
        return 0;
    char host[256];
    int port;
    int local = git_url_host(url, host, sizeof host, &port);
    if (local > 0)
        return 0;
    if (local < 0)
        return kerr_setc(e, KERR_INVALID, "security.ssrf: cannot read the host of '%s'", url);
    kerr ge = KERR_INIT;
    if (netguard_check_host_all(host, port, &ge))
        return kerr_setc(e, ge.code, "git %s: %s", url, ge.msg);
    return 0;
}

static int read_gprops(task_ctx *c, const char *dflt_branch, gprops *g, kerr *e)
{
    memset(g, 0, sizeof *g);
    if (tasks__prop_text(c, "url", NULL, &g->url, e) || tasks__prop_text(c, "branch", dflt_branch, &g->branch, e) ||
        tasks__prop_text(c, "username", NULL, &g->user, e) || tasks__prop_text(c, "password", NULL, &g->pass, e) ||
        tasks__prop_text(c, "privateKey", NULL, &g->key, e) || tasks__prop_text(c, "passphrase", NULL, &g->passphrase, e) ||
        tasks__prop_text(c, "knownHosts", NULL, &g->kh, e) || tasks__prop_text(c, "trustedCaPemPath", NULL, &g->ca, e))
        return -1;
    char *strict = NULL;
    if (tasks__prop_text(c, "strictHostKeyChecking", "no", &strict, e))
        return -1;
    if (!strcasecmp(strict, "yes") || !strcasecmp(strict, "ask") || !strcasecmp(strict, "true")) {
        g->strict = 1;
    } else if (*strict && strcasecmp(strict, "no") && strcasecmp(strict, "false")) {
        kerr_set(e, "property 'strictHostKeyChecking': '%s' is not one of yes, ask, no", strict);
        free(strict);
        return -1;
    }
    free(strict);
    if (g->kh && !*g->kh) {
        free(g->kh);
        g->kh = NULL;
    }
    if (g->ca && !*g->ca) {
        free(g->ca);
        g->ca = NULL;
    }
    task_secret(c, g->pass);
    task_secret(c, g->key);
    task_secret(c, g->passphrase);
    if (!g->url || !*g->url)
        return kerr_set(e, "property 'url' is required (the repository's URL)");
    return git_guard(g->url, e);
}

static const char *tmp_root(task_ctx *c)
{
    const char *r = c->tmp_root && *c->tmp_root ? c->tmp_root : getenv("TMPDIR");
    return r && *r ? r : "/tmp";
}

static task_result clone_run(task_ctx *c, kerr *e)
{
    gprops g;
    char *dir = NULL, *dest = NULL;
    task_result res = TASK_FAILED;
    if (read_gprops(c, NULL, &g, e) || tasks__prop_text(c, "directory", NULL, &dir, e))
        goto out;
    if (dir && *dir && tasks__check_rel("directory", dir, e))
        goto out;
    const char *base = c->workdir;
    char *own = NULL;
    if (!base) {
        own = xasprintf("%s/kite-git-XXXXXX", tmp_root(c));
        if (!mkdtemp(own)) {
            kerr_set(e, "cannot create a folder under %s: %s", tmp_root(c), strerror(errno));
            free(own);
            goto out;
        }
        base = own;
        task_log(c, LEVEL_WARN, "not inside a WorkingDirectory: the clone goes to %s, which later tasks do not share", own);
    }
    dest = dir && *dir ? xasprintf("%s/%s", base, dir) : xstrdup(base);
    free(own);
    int subs = 0, nsub = 0;
    if (task_prop_bool(c, "cloneSubmodules", 0, &subs, e))
        goto out;
    if (clone_checked(g.url, g.branch, g.user, g.pass, g.key, g.passphrase, tmp_root(c), dest, g.strict, g.kh, NULL, g.ca,
                      NULL, subs, &nsub, e))
        goto out;
    if (subs)
        task_log(c, LEVEL_INFO, "%d submodule%s cloned", nsub, nsub == 1 ? "" : "s");
    task_output(c, "directory", json_string(dest));
    res = TASK_SUCCESS;
out:
    gprops_free(&g);
    free(dir), free(dest);
    return res;
}

static int task_put(void *ud, const char *src, size_t len, const char *name, int *rev, diags *d)
{
    task_ctx *c = ud;
    return c->ops->flow_put(c, src, len, name, rev, d);
}

static void task_say(void *ud, int warn, const char *msg)
{
    task_log(ud, warn ? LEVEL_WARN : LEVEL_INFO, "%s", msg);
}

static task_result sync_flows_run(task_ctx *c, kerr *e)
{
    gprops g;
    char *gitdir = NULL, *ns = NULL, *clone = NULL, *dir = NULL;
    int children = 0, del = 0, dry = 0;
    json_t *rep = NULL;
    task_result res = TASK_FAILED;
    if (read_gprops(c, "main", &g, e) || tasks__prop_text(c, "gitDirectory", "_flows", &gitdir, e) ||
        tasks__prop_text(c, "targetNamespace", NULL, &ns, e) ||
        task_prop_bool(c, "includeChildNamespaces", 0, &children, e) || task_prop_bool(c, "delete", 0, &del, e) ||
        task_prop_bool(c, "dryRun", 0, &dry, e))
        goto out;
    if (!ns || !*ns) {
        kerr_set(e, "property 'targetNamespace' is required");
        goto out;
    }
    if (!c->ops->flow_put) {
        kerr_set(e, "this engine cannot store flows from a task");
        goto out;
    }
    if (*gitdir && strcmp(gitdir, ".") && tasks__check_rel("gitDirectory", gitdir, e))
        goto out;
    clone = xasprintf("%s/kite-git-XXXXXX", tmp_root(c));
    if (!mkdtemp(clone)) {
        kerr_set(e, "cannot create a folder under %s: %s", tmp_root(c), strerror(errno));
        free(clone);
        clone = NULL;
        goto out;
    }
    char *repo = xasprintf("%s/repo", clone);
    int crc = clone_checked(g.url, g.branch, g.user, g.pass, g.key, g.passphrase, tmp_root(c), repo, g.strict, g.kh, NULL,
                            g.ca, NULL, 0, NULL, e);
    free(repo);
    if (crc)
        goto out;
    dir = *gitdir && strcmp(gitdir, ".") ? xasprintf("%s/repo/%s", clone, gitdir) : xasprintf("%s/repo", clone);
    tasks_flow_sync_opts o = {.dir = dir, .dir_name = *gitdir ? gitdir : ".", .ns = ns, .children = children,
                              .del = del, .dry_run = dry, .keep_ns = c->namespace, .keep_id = c->flow_id};
    int invalid = 0;
    if (tasks_flow_sync(c->store, task_put, c, &o, task_say, c, &rep, e))
        goto out;
    invalid = (int)json_array_size(json_object_get(rep, "invalid"));
    task_log(c, LEVEL_INFO, "%s%zu added, %zu updated, %zu deleted, %zu unchanged, %d invalid", dry ? "dry run: " : "",
             json_array_size(json_object_get(rep, "added")), json_array_size(json_object_get(rep, "updated")),
             json_array_size(json_object_get(rep, "deleted")), json_array_size(json_object_get(rep, "unchanged")), invalid);
    const char *k;
    json_t *v;
    json_object_foreach(rep, k, v)
        task_output(c, k, json_incref(v));
    res = invalid ? TASK_WARNING : TASK_SUCCESS;
out:
    if (clone) {
        kerr re = KERR_INIT;
        char *argv[] = {"rm", "-rf", clone, NULL};
        proc_spec sp;
        proc_spec_init(&sp);
        sp.argv = (const char *const *)argv;
        proc_result r;
        proc_run(&sp, &r, &re);
        free(clone);
    }
    json_decref(rep);
    gprops_free(&g);
    free(gitdir), free(ns), free(dir);
    return res;
}

/* ---- pushing: a clone to change, commit and push ------------------------------------------ */

typedef struct gwork {
    git_repository *repo;
    char *tmp;     /* a temporary folder holding the clone (removed by work_close) */
    char *dir;     /* the clone's working tree */
    char *kpath;   /* the private key's temporary file */
    char *branch;
    int created;   /* the branch is new: pushed even when nothing else changed */
    const char *url;   /* borrowed: the task's url */
    int want_diff;     /* work_commit_push writes Kestra's diff file */
    char *diff_uri;    /* then: its storage URI */
    gauth a;
} gwork;

static void rm_rf(const char *path)
{
    kerr re = KERR_INIT;
    const char *argv[] = {"rm", "-rf", path, NULL};
    proc_spec sp;
    proc_spec_init(&sp);
    sp.argv = argv;
    proc_result r;
    proc_run(&sp, &r, &re);
}

static void work_close(gwork *w)
{
    git_repository_free(w->repo);
    if (w->kpath) {
        unlink(w->kpath);
        free(w->kpath);
    }
    if (w->tmp) {
        rm_rf(w->tmp);
        free(w->tmp);
    }
    free(w->dir);
    free(w->branch);
    free(w->diff_uri);
    free(w->a.host_err);
    memset(w, 0, sizeof *w);
}

static const char *git_msg(void)
{
    const git_error *ge = git_error_last();
    return ge && ge->message ? ge->message : "failed";
}

/* Clones g's repository on g->branch into a temporary folder; a branch the remote does not
 * have yet is created from the remote's HEAD (or as the first commit of an empty
 * repository), as Kestra's push tasks do. */
static int work_open(task_ctx *c, const gprops *g, gwork *w, kerr *e)
{
    if (git_start(e))
        return -1;
    memset(w, 0, sizeof *w);
    w->url = g->url;
    w->branch = xstrdup(g->branch && *g->branch ? g->branch : "main");
    w->a = (gauth){g->user, g->pass && *g->pass ? g->pass : NULL, NULL, g->passphrase, 0, 0, 0, 0, g->strict, g->kh,
                   g->url, NULL, NULL, g->ca, NULL};
    if (g->key && *g->key) {
        w->kpath = xasprintf("%s/kite-git-key-XXXXXX", tmp_root(c));
        int fd = mkstemp(w->kpath);
        size_t kl = strlen(g->key);
        int bad = fd < 0 || tasks__write_all(fd, g->key, kl) || (g->key[kl - 1] != '\n' && tasks__write_all(fd, "\n", 1));
        if (fd >= 0)
            close(fd);
        if (bad) {
            kerr_set(e, "cannot write the private key to a temporary file: %s", strerror(errno));
            work_close(w);
            return -1;
        }
        w->a.keyfile = w->kpath;
    }
    w->tmp = xasprintf("%s/kite-git-XXXXXX", tmp_root(c));
    if (!mkdtemp(w->tmp)) {
        kerr_set(e, "cannot create a folder under %s: %s", tmp_root(c), strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        work_close(w);
        return -1;
    }
    w->dir = xasprintf("%s/repo", w->tmp);
    git_clone_options o;
    git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
    o.checkout_branch = w->branch;
    o.fetch_opts.callbacks.credentials = cred_cb;
    o.fetch_opts.callbacks.certificate_check = cert_cb;
    o.fetch_opts.callbacks.payload = &w->a;
    int rc = git_clone(&w->repo, g->url, w->dir, &o);
    if (rc && w->a.host_err) {
        kerr_set(e, "git clone %s: %s", g->url, w->a.host_err);
        work_close(w);
        return -1;
    }
    if (rc && !w->a.refused) {
        /* no such branch yet: clone the default one and branch off it */
        char first[512];
        snprintf(first, sizeof first, "%s", git_msg());
        rm_rf(w->dir);
        w->a.tries = w->a.key_tried = w->a.pass_tried = 0;
        o.checkout_branch = NULL;
        rc = git_clone(&w->repo, g->url, w->dir, &o);
        if (rc) {
            kerr_set(e, "git clone %s branch %s: %s", g->url, w->branch, first);
            work_close(w);
            return -1;
        }
        char *ref = xasprintf("refs/heads/%s", w->branch);
        git_oid head;
        if (git_reference_name_to_id(&head, w->repo, "HEAD") == 0) {
            git_commit *hc = NULL;
            git_reference *nb = NULL;
            rc = git_commit_lookup(&hc, w->repo, &head) || git_branch_create(&nb, w->repo, w->branch, hc, 0);
            git_reference_free(nb);
            git_commit_free(hc);
        }
        if (!rc)
            rc = git_repository_set_head(w->repo, ref);
        free(ref);
        if (rc) {
            kerr_set(e, "git: cannot create branch %s: %s", w->branch, git_msg());
            work_close(w);
            return -1;
        }
        w->created = git_reference_name_to_id(&head, w->repo, "HEAD") == 0;
        task_log(c, LEVEL_INFO, "branch %s does not exist in %s yet: it is created", w->branch, g->url);
    } else if (rc) {
        kerr_set(e, "git clone %s: authentication failed (%s)", g->url,
                 w->a.key_tried || w->a.pass_tried ? "the credentials were refused" : "no credentials given");
        work_close(w);
        return -1;
    }
    return 0;
}

typedef struct push_state {
    char *rejected;
} push_state;

static int push_ref_cb(const char *refname, const char *status, void *data)
{
    push_state *ps = data;
    if (status && !ps->rejected)
        ps->rejected = xasprintf("%s: %s", refname, status);
    return 0;
}

typedef struct push_payload {
    gauth *a;
    push_state *ps;
} push_payload;

static int push_cred_cb(git_credential **out, const char *url, const char *u, unsigned int allowed, void *payload)
{
    return cred_cb(out, url, u, allowed, ((push_payload *)payload)->a);
}

static int push_update_cb(const char *refname, const char *status, void *payload)
{
    return push_ref_cb(refname, status, ((push_payload *)payload)->ps);
}

static int push_cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
    return cert_cb(cert, valid, host, ((push_payload *)payload)->a);
}

/* The web address of a commit, as Kestra's push tasks give it (commitURL): an
 * scp-like git@host:path becomes https://host/path, credentials are dropped from
 * a URL, then "/commit/<id>" ("/commits/<id>" on Bitbucket, and Azure's
 * ?refName=). A path or file:// URL gives that URL with the same suffix. */
char *tasks__git_commit_url(const char *url, const char *branch, const char *id)
{
    buf b = BUF_INIT;
    const char *at = strchr(url, '@'), *scheme = strstr(url, "://");
    if (!strncmp(url, "git@", 4) && !scheme && strchr(url + 4, ':')) {
        const char *host = url + 4, *colon = strchr(host, ':'), *path = colon + 1;
        if (!strncmp(host, "ssh.", 4))
            host += 4;
        if (path[0] == 'v' && strchr(path, '/')) { /* Azure's v3/ */
            const char *q = path + 1;
            while (*q >= '0' && *q <= '9')
                q++;
            if (*q == '/')
                path = q + 1;
        }
        buf_printf(&b, "https://%.*s/", (int)(colon - host), host);
        if (memmem(host, (size_t)(colon - host), "azure.com", 9) && strrchr(path, '/')) {
            const char *last = strrchr(path, '/');
            buf_printf(&b, "%.*s/_git/%s", (int)(last - path), path, last + 1);
        } else {
            buf_puts(&b, path);
        }
    } else if (scheme && at && at > scheme) {
        buf_printf(&b, "%.*s//%s", (int)(scheme + 1 - url), url, at + 1);
    } else {
        buf_puts(&b, url);
    }
    int bitbucket = strstr(buf_str(&b), "bitbucket.org") != NULL;
    buf_printf(&b, "/%s/%s", bitbucket ? "commits" : "commit", id);
    if (strstr(buf_str(&b), "azure.com"))
        buf_printf(&b, "?refName=refs%%2Fheads%%2F%s", branch);
    return buf_steal(&b);
}

static int diff_sink(void *ud, const char *p, size_t n)
{
    kerr e = KERR_INIT;
    return storage_writer_write(ud, p, n, &e);
}

/* Kestra's diff file of a push: one ION struct a changed file, {file, additions:
 * "+N", deletions: "-N", changes: "N"}, counted over the edits between the branch's
 * tree and the staged one (an edit replacing a lines by b lines adds b - a
 * additions when b > a, a - b deletions when a > b, else b changed lines). Stored
 * as the task's file diff.ion; *uri gets it. */
static int write_diff(task_ctx *c, git_repository *repo, git_tree *old_tree, const git_oid *new_id, char **uri,
                      kerr *e)
{
    *uri = NULL;
    git_tree *nt = NULL;
    git_diff *diff = NULL;
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    o.context_lines = 0;
    o.interhunk_lines = 0;
    if (git_tree_lookup(&nt, repo, new_id) || git_diff_tree_to_tree(&diff, repo, old_tree, nt, &o)) {
        git_tree_free(nt);
        return kerr_set(e, "git diff: %s", git_msg());
    }
    char *u = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id,
                                    "diff.ion", e);
    storage_writer *sw = u ? storage_writer_new(c->storage, u, e) : NULL;
    int rc = sw ? 0 : -1;
    ion_writer *iw = sw ? ion_writer_new(diff_sink, sw) : NULL;
    size_t nd = git_diff_num_deltas(diff);
    for (size_t i = 0; i < nd && !rc; i++) {
        git_patch *patch = NULL;
        if (git_patch_from_diff(&patch, diff, i)) {
            rc = kerr_set(e, "git diff: %s", git_msg());
            break;
        }
        const git_diff_delta *d = git_patch_get_delta(patch);
        long add = 0, del = 0, chg = 0;
        size_t nh = git_patch_num_hunks(patch);
        for (size_t h = 0; h < nh; h++) {
            const git_diff_hunk *hk;
            size_t nl;
            if (git_patch_get_hunk(&hk, &nl, patch, h))
                continue;
            long m = (long)hk->new_lines - (long)hk->old_lines;
            if (m > 0)
                add += m;
            else if (m < 0)
                del -= m;
            else
                chg += hk->new_lines;
        }
        const char *file = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
        char a[32], dl[32], ch[32];
        snprintf(a, sizeof a, "+%ld", add);
        snprintf(dl, sizeof dl, "-%ld", del);
        snprintf(ch, sizeof ch, "%ld", chg);
        if (ion_begin_struct(iw) || ion_write_field(iw, "file") || ion_write_string(iw, file, strlen(file)) ||
            ion_write_field(iw, "additions") || ion_write_string(iw, a, strlen(a)) ||
            ion_write_field(iw, "deletions") || ion_write_string(iw, dl, strlen(dl)) ||
            ion_write_field(iw, "changes") || ion_write_string(iw, ch, strlen(ch)) || ion_end_struct(iw))
            rc = kerr_set(e, "%s: cannot write the diff file", u);
        git_patch_free(patch);
    }
    if (iw && !rc && ion_writer_flush(iw))
        rc = kerr_set(e, "%s: cannot write the diff file", u);
    ion_writer_free(iw);
    git_diff_free(diff);
    git_tree_free(nt);
    if (sw && rc)
        storage_writer_abort(sw);
    else if (sw && storage_writer_commit(sw, e))
        rc = -1;
    if (rc)
        free(u);
    else
        *uri = u;
    return rc;
}

/* Stages every change of the working tree (new, changed and removed files; with `only_add`,
 * new and changed files matching `patterns` only), commits it and pushes the branch. *id
 * gets the commit's id, or "" when nothing changed (no commit, no push). */
static int work_commit_push(task_ctx *c, gwork *w, const char *msg, const char *name, const char *email,
                            const git_strarray *patterns, int only_add, int dry_run, char id[GIT_OID_HEXSZ + 1],
                            kerr *e)
{
    id[0] = '\0';
    git_index *idx = NULL;
    git_oid tree_id, parent_id, commit_id;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    git_remote *remote = NULL;
    char *star = "*";
    git_strarray all = {&star, 1};
    int rc = -1;
    if (git_repository_index(&idx, w->repo) ||
        git_index_add_all(idx, patterns ? patterns : &all, GIT_INDEX_ADD_DEFAULT, NULL, NULL) ||
        (!only_add && git_index_update_all(idx, patterns ? patterns : &all, NULL, NULL)) ||
        git_index_write(idx) || git_index_write_tree(&tree_id, idx)) {
        kerr_set(e, "git: staging the changes: %s", git_msg());
        goto out;
    }
    int has_parent = git_reference_name_to_id(&parent_id, w->repo, "HEAD") == 0;
    if (has_parent) {
        if (git_commit_lookup(&parent, w->repo, &parent_id)) {
            kerr_set(e, "git: reading HEAD: %s", git_msg());
            goto out;
        }
    }
    if (w->want_diff) {
        git_tree *pt = NULL;
        if (has_parent && git_commit_tree(&pt, parent)) {
            kerr_set(e, "git: reading HEAD's tree: %s", git_msg());
            goto out;
        }
        int drc = write_diff(c, w->repo, pt, &tree_id, &w->diff_uri, e);
        git_tree_free(pt);
        if (drc)
            goto out;
    }
    int changed = !has_parent || !git_oid_equal(git_commit_tree_id(parent), &tree_id);
    if (!changed && !w->created) {
        task_log(c, LEVEL_INFO, "nothing changed: no commit, no push");
        rc = 0;
        goto out;
    }
    if (dry_run) {
        task_log(c, LEVEL_INFO, "dry run: nothing committed nor pushed");
        rc = 0;
        goto out;
    }
    if (changed) {
        if (git_tree_lookup(&tree, w->repo, &tree_id) || git_signature_now(&sig, name, email)) {
            kerr_set(e, "git: %s", git_msg());
            goto out;
        }
        const git_commit *parents[1] = {parent};
        if (git_commit_create(&commit_id, w->repo, "HEAD", sig, sig, NULL, msg, tree, has_parent ? 1 : 0, parents)) {
            kerr_set(e, "git commit: %s", git_msg());
            goto out;
        }
        git_oid_tostr(id, GIT_OID_HEXSZ + 1, &commit_id);
    } else {
        git_oid_tostr(id, GIT_OID_HEXSZ + 1, &parent_id); /* the new branch's head */
    }
    if (git_remote_lookup(&remote, w->repo, "origin")) {
        kerr_set(e, "git: no remote origin: %s", git_msg());
        goto out;
    }
    char *spec = xasprintf("refs/heads/%s:refs/heads/%s", w->branch, w->branch);
    git_strarray specs = {&spec, 1};
    push_state ps = {NULL};
    push_payload pp = {&w->a, &ps};
    git_push_options po;
    git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
    po.callbacks.credentials = push_cred_cb;
    po.callbacks.certificate_check = push_cert_cb;
    po.callbacks.push_update_reference = push_update_cb;
    po.callbacks.payload = &pp;
    w->a.tries = w->a.key_tried = w->a.pass_tried = 0;
    int prc = git_remote_push(remote, &specs, &po);
    free(spec);
    if (prc && w->a.host_err) {
        kerr_set(e, "git push %s to %s: %s", w->branch, git_remote_url(remote), w->a.host_err);
    } else if (prc) {
        kerr_set(e, "git push %s to %s: %s", w->branch, git_remote_url(remote), git_msg());
    } else if (ps.rejected) {
        kerr_set(e, "git push %s to %s: rejected (%s)", w->branch, git_remote_url(remote), ps.rejected);
    } else {
        task_log(c, LEVEL_INFO, "pushed %s %s to %s of %s", changed ? "commit" : "the new branch at", id, w->branch,
                 git_remote_url(remote));
        rc = 0;
    }
    free(ps.rejected);
out:
    git_remote_free(remote);
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(tree);
    git_index_free(idx);
    return rc;
}

/* commitId and commitURL (null when nothing was committed), and, under
 * diff_key (Kestra's "flows" or "files"), the diff file's URI. */
static void push_outputs(task_ctx *c, gwork *w, const char *id, const char *diff_key)
{
    task_output(c, "commitId", *id ? json_string(id) : json_null());
    char *url = *id ? tasks__git_commit_url(w->url, w->branch, id) : NULL;
    task_output(c, "commitURL", url ? json_string(url) : json_null());
    free(url);
    if (diff_key)
        task_output(c, diff_key, w->diff_uri ? json_string(w->diff_uri) : json_null());
}

/* authorName / authorEmail (Kestra's), or author {name, email}; defaults: the username (or
 * "kite") and <name>@kite.local. */
static int read_author(task_ctx *c, const gprops *g, char **name, char **email, kerr *e)
{
    *name = *email = NULL;
    json_t *au = NULL;
    if (tasks__prop_text(c, "authorName", NULL, name, e) || tasks__prop_text(c, "authorEmail", NULL, email, e) ||
        task_prop(c, "author", &au, e))
        return -1;
    if (json_is_object(au)) {
        const char *n = json_string_value(json_object_get(au, "name"));
        const char *m = json_string_value(json_object_get(au, "email"));
        if (!*name && n)
            *name = xstrdup(n);
        if (!*email && m)
            *email = xstrdup(m);
    }
    json_decref(au);
    if (!*name || !**name) {
        free(*name);
        *name = xstrdup(g->user && *g->user ? g->user : "kite");
    }
    if (!*email || !**email) {
        free(*email);
        *email = xasprintf("%s@kite.local", *name);
    }
    return 0;
}

/* A list of glob patterns from a property (a string or a list of strings); dflt when absent. */
static json_t *read_globs(task_ctx *c, const char *name, const char *dflt, kerr *e)
{
    json_t *v = NULL;
    if (task_prop(c, name, &v, e))
        return NULL;
    if (!v || json_is_null(v)) {
        json_decref(v);
        return json_pack("[s]", dflt);
    }
    if (json_is_string(v)) {
        json_t *l = json_pack("[O]", v);
        json_decref(v);
        return l;
    }
    size_t i;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if (!json_is_string(x)) {
                json_decref(v);
                kerr_set(e, "property '%s': item %zu is not a string", name, i);
                return NULL;
            }
        }
        return v;
    }
    json_decref(v);
    kerr_set(e, "property '%s' must be a glob or a list of globs", name);
    return NULL;
}

static int globs_match(const json_t *globs, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(globs, i, x) {
        const char *p = json_string_value(x);
        if (!strcmp(p, "**") || !strcmp(p, "*") || proc_glob_match(p, s))
            return 1;
    }
    return 0;
}

typedef struct changes {
    json_t *added, *updated, *deleted, *unchanged;
} changes;

static void changes_init(changes *ch)
{
    ch->added = json_array(), ch->updated = json_array(), ch->deleted = json_array(), ch->unchanged = json_array();
}

static void changes_free(changes *ch)
{
    json_decref(ch->added), json_decref(ch->updated), json_decref(ch->deleted), json_decref(ch->unchanged);
}

static void changes_output(task_ctx *c, changes *ch, const char *what, int dry)
{
    task_log(c, LEVEL_INFO, "%s%s: %zu added, %zu updated, %zu deleted, %zu unchanged", dry ? "dry run: " : "", what,
             json_array_size(ch->added), json_array_size(ch->updated), json_array_size(ch->deleted),
             json_array_size(ch->unchanged));
    task_output(c, "added", json_incref(ch->added));
    task_output(c, "updated", json_incref(ch->updated));
    task_output(c, "deleted", json_incref(ch->deleted));
    task_output(c, "unchanged", json_incref(ch->unchanged));
}

/* Writes data to dir/rel (making its folders), noting in ch whether it was added, updated or
 * unchanged. */
static int write_tracked(const char *dir, const char *rel, const char *data, size_t len, changes *ch, json_t *written,
                         kerr *e)
{
    char *path = xasprintf("%s/%s", dir, rel);
    buf old = BUF_INIT;
    kerr re = KERR_INIT;
    int existed = fs_read_file(path, 1u << 30, &old, &re) == 0;
    int same = existed && old.len == len && (!len || !memcmp(old.data, data, len));
    buf_free(&old);
    json_object_set_new(written, rel, json_true());
    json_array_append_new(same ? ch->unchanged : existed ? ch->updated : ch->added, json_string(rel));
    int rc = 0;
    if (!same) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        rc = fs_mkdir_p(path, e);
        *slash = '/';
        int fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!rc && (fd < 0 || tasks__write_all(fd, data, len)))
            rc = kerr_set(e, "%s: %s", rel, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    free(path);
    return rc;
}

/* Files below dir/sub (recursively, or its own files only), relative to dir, sorted. */
static void list_files(const char *dir, const char *sub, int recursive, json_t *out)
{
    char *abs = *sub ? xasprintf("%s/%s", dir, sub) : xstrdup(dir);
    DIR *d = opendir(abs);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git")))
                continue;
            char *rel = *sub ? xasprintf("%s/%s", sub, de->d_name) : xstrdup(de->d_name);
            char *p = xasprintf("%s/%s", dir, rel);
            struct stat st;
            if (lstat(p, &st) == 0) {
                if (S_ISDIR(st.st_mode)) {
                    if (recursive)
                        list_files(dir, rel, 1, out);
                } else if (S_ISREG(st.st_mode)) {
                    json_array_append_new(out, json_string(rel));
                }
            }
            free(p);
            free(rel);
        }
        closedir(d);
    }
    free(abs);
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* list_files, sorted by path bytes. */
static void list_sorted(const char *dir, const char *sub, int recursive, json_t *out)
{
    json_t *tmp = json_array();
    list_files(dir, sub, recursive, tmp);
    size_t n = json_array_size(tmp);
    json_t **v = xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(tmp, i);
    qsort(v, n, sizeof *v, cmp_json_str);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(tmp);
}

/* dir/gitdir with gitdir checked ("" or "." for the repository's root). */
static int sub_dir(const char *gitdir, kerr *e)
{
    if (*gitdir && strcmp(gitdir, ".") && tasks__check_rel("gitDirectory", gitdir, e))
        return -1;
    return 0;
}

static const char *gd(const char *gitdir)
{
    return !strcmp(gitdir, ".") ? "" : gitdir;
}

/* ---- git.push_flows --------------------------------------------------------------------- */

static task_result push_flows_run(task_ctx *c, kerr *e)
{
    gprops g;
    gwork w;
    memset(&w, 0, sizeof w);
    char *gitdir = NULL, *src_ns = NULL, *target = NULL, *msg = NULL, *name = NULL, *email = NULL;
    int children = 0, del = 1, dry = 0;
    json_t *globs = NULL, *written = json_object();
    store_flow *v = NULL;
    size_t n = 0;
    changes ch;
    changes_init(&ch);
    task_result res = TASK_FAILED;
    if (read_gprops(c, "main", &g, e) || tasks__prop_text(c, "gitDirectory", "_flows", &gitdir, e) ||
        tasks__prop_text(c, "sourceNamespace", c->namespace, &src_ns, e) ||
        tasks__prop_text(c, "targetNamespace", NULL, &target, e) ||
        task_prop_bool(c, "includeChildNamespaces", 0, &children, e) || task_prop_bool(c, "delete", 1, &del, e) ||
        task_prop_bool(c, "dryRun", 0, &dry, e) || !(globs = read_globs(c, "flows", "**", e)) ||
        read_author(c, &g, &name, &email, e) || sub_dir(gitdir, e))
        goto out;
    if (!flow_valid_namespace(src_ns)) {
        kerr_set(e, "property 'sourceNamespace': '%s' is not a namespace", src_ns);
        goto out;
    }
    if (target && *target && !flow_valid_namespace(target)) {
        kerr_set(e, "property 'targetNamespace': '%s' is not a namespace", target);
        goto out;
    }
    if (tasks__prop_text(c, "commitMessage", NULL, &msg, e))
        goto out;
    if (!msg || !*msg) {
        free(msg);
        msg = xasprintf("Add flows from %s namespace", src_ns);
    }
    store_flow_query q = {.ns_prefix = src_ns};
    if (store_flow_search(c->store, &q, &v, &n, NULL, e))
        goto out;
    if (work_open(c, &g, &w, e))
        goto out;
    w.want_diff = 1;
    size_t nl = strlen(src_ns);
    for (size_t i = 0; i < n; i++) {
        const char *fns = v[i].namespace;
        if (strcmp(fns, src_ns) && !children)
            continue;
        if (!globs_match(globs, v[i].id))
            continue;
        /* a child namespace goes to a subfolder: src.a.b -> <gitDirectory>/a/b/ */
        buf rel = BUF_INIT;
        if (*gd(gitdir))
            buf_printf(&rel, "%s/", gd(gitdir));
        for (const char *p = fns[nl] == '.' ? fns + nl + 1 : ""; *p; p++)
            buf_putc(&rel, *p == '.' ? '/' : *p);
        if (fns[nl] == '.')
            buf_putc(&rel, '/');
        buf_printf(&rel, "%s.yml", v[i].id);
        char *text = NULL;
        if (target && *target) {
            char *tns = fns[nl] == '.' ? xasprintf("%s%s", target, fns + nl) : xstrdup(target);
            text = replace_namespace(v[i].source, strlen(v[i].source), tns);
            free(tns);
        }
        const char *data = text ? text : v[i].source;
        int rc = write_tracked(w.dir, buf_str(&rel), data, strlen(data), &ch, written, e);
        free(text);
        buf_free(&rel);
        if (rc)
            goto out;
    }
    if (del) {
        json_t *have = json_array();
        list_sorted(w.dir, gd(gitdir), children, have);
        size_t i;
        json_t *x;
        json_array_foreach(have, i, x) {
            const char *rel = json_string_value(x);
            const char *base = strrchr(rel, '/');
            base = base ? base + 1 : rel;
            if (!is_flow_file(base) || json_object_get(written, rel))
                continue;
            char *id = xstrdup(base);
            *strrchr(id, '.') = '\0';
            if (globs_match(globs, id)) {
                char *p = xasprintf("%s/%s", w.dir, rel);
                unlink(p);
                free(p);
                json_array_append_new(ch.deleted, json_string(rel));
            }
            free(id);
        }
        json_decref(have);
    }
    char id[GIT_OID_HEXSZ + 1];
    if (work_commit_push(c, &w, msg, name, email, NULL, 0, dry, id, e))
        goto out;
    push_outputs(c, &w, id, "flows");
    changes_output(c, &ch, "flows", dry);
    res = TASK_SUCCESS;
out:
    work_close(&w);
    store_flows_free(v, n);
    changes_free(&ch);
    json_decref(globs);
    json_decref(written);
    gprops_free(&g);
    free(gitdir), free(src_ns), free(target), free(msg), free(name), free(email);
    return res;
}

/* ---- git.push_namespace_files ------------------------------------------------------------ */

static task_result push_ns_files_run(task_ctx *c, kerr *e)
{
    gprops g;
    gwork w;
    memset(&w, 0, sizeof w);
    char *gitdir = NULL, *ns = NULL, *msg = NULL, *name = NULL, *email = NULL, *probe = NULL;
    int del = 1, dry = 0;
    json_t *globs = NULL, *written = json_object();
    storage_entry *v = NULL;
    size_t n = 0;
    changes ch;
    changes_init(&ch);
    task_result res = TASK_FAILED;
    if (read_gprops(c, "main", &g, e) || tasks__prop_text(c, "gitDirectory", "_files", &gitdir, e) ||
        tasks__prop_text(c, "namespace", c->namespace, &ns, e) || task_prop_bool(c, "delete", 1, &del, e) ||
        task_prop_bool(c, "dryRun", 0, &dry, e) || !(globs = read_globs(c, "files", "**", e)) ||
        read_author(c, &g, &name, &email, e) || sub_dir(gitdir, e) ||
        tasks__prop_text(c, "commitMessage", NULL, &msg, e))
        goto out;
    if (!msg || !*msg) {
        free(msg);
        msg = xasprintf("Add files from %s namespace", ns);
    }
    if (!(probe = storage_uri_namespace_file(ns, "x", e))) {
        kerr_prefix(e, "property 'namespace'");
        goto out;
    }
    probe[strlen(probe) - 1] = '\0';
    if (storage_list(c->storage, probe, &v, &n, e) || work_open(c, &g, &w, e))
        goto out;
    w.want_diff = 1;
    for (size_t i = 0; i < n; i++) {
        storage_uri u;
        kerr pe = KERR_INIT;
        if (storage_uri_parse(v[i].uri, 0, &u, &pe))
            continue;
        int ok = u.name && globs_match(globs, u.name);
        char *rel = ok ? (*gd(gitdir) ? xasprintf("%s/%s", gd(gitdir), u.name) : xstrdup(u.name)) : NULL;
        storage_uri_free(&u);
        if (!ok)
            continue;
        buf data = BUF_INIT;
        int rc = storage_read_all(c->storage, v[i].uri, 0, &data, e) ||
                 write_tracked(w.dir, rel, data.data ? data.data : "", data.len, &ch, written, e);
        buf_free(&data);
        free(rel);
        if (rc)
            goto out;
    }
    if (del) {
        json_t *have = json_array();
        list_sorted(w.dir, gd(gitdir), 1, have);
        size_t i, off = *gd(gitdir) ? strlen(gd(gitdir)) + 1 : 0;
        json_t *x;
        json_array_foreach(have, i, x) {
            const char *rel = json_string_value(x);
            if (json_object_get(written, rel) || !globs_match(globs, rel + off))
                continue;
            char *p = xasprintf("%s/%s", w.dir, rel);
            unlink(p);
            free(p);
            json_array_append_new(ch.deleted, json_string(rel));
        }
        json_decref(have);
    }
    char id[GIT_OID_HEXSZ + 1];
    if (work_commit_push(c, &w, msg, name, email, NULL, 0, dry, id, e))
        goto out;
    push_outputs(c, &w, id, "files");
    changes_output(c, &ch, "namespace files", dry);
    res = TASK_SUCCESS;
out:
    work_close(&w);
    storage_entries_free(v, n);
    changes_free(&ch);
    json_decref(globs);
    json_decref(written);
    gprops_free(&g);
    free(gitdir), free(ns), free(msg), free(name), free(email), free(probe);
    return res;
}

/* ---- git.sync_namespace_files ------------------------------------------------------------ */

static task_result sync_ns_files_run(task_ctx *c, kerr *e)
{
    gprops g;
    gwork w;
    memset(&w, 0, sizeof w);
    char *gitdir = NULL, *ns = NULL, *probe = NULL;
    int del = 0, dry = 0;
    json_t *files = json_array(), *seen = json_object();
    storage_entry *v = NULL;
    size_t n = 0;
    changes ch;
    changes_init(&ch);
    task_result res = TASK_FAILED;
    if (read_gprops(c, "main", &g, e) || tasks__prop_text(c, "gitDirectory", "_files", &gitdir, e) ||
        tasks__prop_text(c, "namespace", c->namespace, &ns, e) || task_prop_bool(c, "delete", 0, &del, e) ||
        task_prop_bool(c, "dryRun", 0, &dry, e) || sub_dir(gitdir, e))
        goto out;
    if (!(probe = storage_uri_namespace_file(ns, "x", e))) {
        kerr_prefix(e, "property 'namespace'");
        goto out;
    }
    probe[strlen(probe) - 1] = '\0';
    if (work_open(c, &g, &w, e))
        goto out;
    char *base = *gd(gitdir) ? xasprintf("%s/%s", w.dir, gd(gitdir)) : xstrdup(w.dir);
    list_sorted(base, "", 1, files);
    size_t i;
    json_t *x;
    int rc = 0;
    json_array_foreach(files, i, x) {
        const char *rel = json_string_value(x);
        char *uri = storage_uri_namespace_file(ns, rel, e);
        if (!uri) {
            task_log(c, LEVEL_WARN, "%s: not a valid namespace file path (%s): skipped", rel, e->msg);
            kerr_clear(e);
            continue;
        }
        json_object_set_new(seen, uri, json_true());
        buf data = BUF_INIT, old = BUF_INIT;
        char *path = xasprintf("%s/%s", base, rel);
        kerr re = KERR_INIT;
        rc = fs_read_file(path, 1u << 30, &data, e);
        int existed = !rc && storage_read_all(c->storage, uri, 0, &old, &re) == 0;
        int same = existed && old.len == data.len && (!data.len || !memcmp(old.data, data.data, data.len));
        if (!rc) {
            json_array_append_new(same ? ch.unchanged : existed ? ch.updated : ch.added, json_sprintf("/%s", rel));
            if (!same && !dry)
                rc = storage_put(c->storage, uri, data.data ? data.data : "", data.len, e);
        }
        free(path);
        free(uri);
        buf_free(&data);
        buf_free(&old);
        if (rc)
            break;
    }
    free(base);
    if (rc)
        goto out;
    if (del) {
        if (storage_list(c->storage, probe, &v, &n, e))
            goto out;
        for (size_t k = 0; k < n; k++) {
            if (json_object_get(seen, v[k].uri))
                continue;
            storage_uri u;
            kerr pe = KERR_INIT;
            if (storage_uri_parse(v[k].uri, 0, &u, &pe))
                continue;
            json_array_append_new(ch.deleted, json_sprintf("/%s", u.name ? u.name : ""));
            storage_uri_free(&u);
            if (!dry && storage_delete(c->storage, v[k].uri, e) < 0)
                goto out;
        }
    }
    changes_output(c, &ch, "namespace files", dry);
    res = TASK_SUCCESS;
out:
    work_close(&w);
    storage_entries_free(v, n);
    changes_free(&ch);
    json_decref(files);
    json_decref(seen);
    gprops_free(&g);
    free(gitdir), free(ns), free(probe);
    return res;
}

/* ---- git.push ------------------------------------------------------------------------------ */

/* Kestra's Push: clone the branch (created when missing), put inputFiles and namespaceFiles
 * into the clone, add what addFilesPattern matches, commit and push. The clone is made in
 * `directory` of the working directory when the task runs in one (later tasks see it). */
static task_result push_run(task_ctx *c, kerr *e)
{
    gprops g;
    gwork w;
    memset(&w, 0, sizeof w);
    char *msg = NULL, *name = NULL, *email = NULL, *dir = NULL;
    int dry = 0;
    json_t *adds = NULL, *inputs = NULL, *nsf = NULL;
    task_result res = TASK_FAILED;
    if (read_gprops(c, NULL, &g, e) || tasks__prop_text(c, "commitMessage", NULL, &msg, e) ||
        read_author(c, &g, &name, &email, e) || task_prop_bool(c, "dryRun", 0, &dry, e) ||
        !(adds = read_globs(c, "addFilesPattern", ".", e)) || task_prop(c, "inputFiles", &inputs, e) ||
        task_prop(c, "namespaceFiles", &nsf, e) || tasks__prop_text(c, "directory", NULL, &dir, e))
        goto out;
    if (!g.branch || !*g.branch) {
        kerr_set(e, "property 'branch' is required");
        goto out;
    }
    if (!msg || !*msg) {
        kerr_set(e, "property 'commitMessage' is required");
        goto out;
    }
    if (dir && *dir && tasks__check_rel("directory", dir, e))
        goto out;
    if (inputs && !json_is_object(inputs)) {
        kerr_set(e, "property 'inputFiles' must be a map of file name to content");
        goto out;
    }
    if (work_open(c, &g, &w, e))
        goto out;
    const char *k;
    json_t *val;
    json_object_foreach(inputs, k, val) {
        if (tasks__check_rel("inputFiles", k, e))
            goto out;
        char *owned = NULL;
        const char *text = json_string_value(val);
        buf data = BUF_INIT;
        if (text && storage_uri_has_scheme(text)) {
            if (storage_read_all(c->storage, text, 0, &data, e)) {
                buf_free(&data);
                goto out;
            }
        } else {
            if (!text)
                text = owned = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            buf_puts(&data, text);
        }
        char *p = xasprintf("%s/%s", w.dir, k);
        char *slash = strrchr(p, '/');
        *slash = '\0';
        int rc = fs_mkdir_p(p, e);
        *slash = '/';
        int fd = rc ? -1 : open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!rc && (fd < 0 || tasks__write_all(fd, data.data ? data.data : "", data.len)))
            rc = kerr_set(e, "inputFiles '%s': %s", k, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(p);
        free(owned);
        buf_free(&data);
        if (rc)
            goto out;
    }
    if (json_is_true(json_object_get(nsf, "enabled"))) {
        /* the execution's namespace files, into the clone's root */
        char *probe = storage_uri_namespace_file(c->namespace, "x", e);
        storage_entry *v = NULL;
        size_t n = 0;
        if (!probe)
            goto out;
        probe[strlen(probe) - 1] = '\0';
        int rc = storage_list(c->storage, probe, &v, &n, e);
        free(probe);
        json_t *inc = json_object_get(nsf, "include");
        for (size_t i = 0; !rc && i < n; i++) {
            storage_uri u;
            kerr pe = KERR_INIT;
            if (storage_uri_parse(v[i].uri, 0, &u, &pe))
                continue;
            if (u.name && (!json_is_array(inc) || !json_array_size(inc) || globs_match(inc, u.name))) {
                buf data = BUF_INIT;
                json_t *tmp = json_object();
                changes ch;
                changes_init(&ch);
                rc = storage_read_all(c->storage, v[i].uri, 0, &data, e) ||
                     write_tracked(w.dir, u.name, data.data ? data.data : "", data.len, &ch, tmp, e);
                changes_free(&ch);
                json_decref(tmp);
                buf_free(&data);
            }
            storage_uri_free(&u);
        }
        storage_entries_free(v, n);
        if (rc)
            goto out;
    }
    /* "." (Kestra's default) is everything */
    size_t np = json_array_size(adds);
    char **pats = xcalloc(np + 1, sizeof *pats);
    for (size_t i = 0; i < np; i++) {
        const char *p = json_string_value(json_array_get(adds, i));
        pats[i] = xstrdup(!strcmp(p, ".") ? "*" : p);
    }
    git_strarray ps = {pats, np};
    char id[GIT_OID_HEXSZ + 1];
    int rc = work_commit_push(c, &w, msg, name, email, &ps, 1, dry, id, e);
    for (size_t i = 0; i < np; i++)
        free(pats[i]);
    free(pats);
    if (rc)
        goto out;
    push_outputs(c, &w, id, NULL);
    task_output(c, "branch", json_string(w.branch));
    if (c->workdir) {
        /* the clone stays for later tasks of the WorkingDirectory */
        char *dest = dir && *dir ? xasprintf("%s/%s", c->workdir, dir) : NULL;
        if (dest) {
            struct stat st;
            if (stat(dest, &st) == 0) {
                task_log(c, LEVEL_WARN, "%s exists: the clone is not copied there", dir);
            } else if (rename(w.dir, dest) == 0) {
                task_output(c, "directory", json_string(dest));
            }
            free(dest);
        }
    }
    res = TASK_SUCCESS;
out:
    work_close(&w);
    json_decref(adds), json_decref(inputs), json_decref(nsf);
    gprops_free(&g);
    free(msg), free(name), free(email), free(dir);
    return res;
}

static const struct task_hooks push_flows_hooks = {.run = push_flows_run};
static const struct task_hooks push_ns_files_hooks = {.run = push_ns_files_run};
static const struct task_hooks sync_ns_files_hooks = {.run = sync_ns_files_run};
static const struct task_hooks push_hooks = {.run = push_run};

static const struct task_hooks clone_hooks = {.run = clone_run};
static const struct task_hooks sync_flows_hooks = {.run = sync_flows_run};

/* ---- the family's types ---- */

#define P_GIT_CONN                                                                            \
    PSTR("url", PF_REQUIRED, NULL, "the repository (https://, ssh://, git@host:path, file://)"), \
    PSTR("username", 0, NULL, "the user (HTTPS; SSH: default from the URL, else git)"),      \
    PSTR("password", 0, NULL, "the password or token (HTTPS)"),                               \
    PSTR("privateKey", 0, NULL, "the SSH private key's text"),                                \
    PSTR("passphrase", 0, NULL, "the private key's passphrase"),                              \
    PSTR("strictHostKeyChecking", 0, "\"no\"", "SSH: yes checks the host key against the known hosts"), \
    PSTR("knownHosts", 0, NULL, "SSH: known_hosts lines (default ~/.ssh/known_hosts)"),       \
    PSTR("trustedCaPemPath", 0, NULL, "HTTPS: a PEM file of CAs trusted besides the system's"), \
    PSTR("gitConfig", 0, NULL, "git configuration (not used by kite)")

#define P_GIT_AUTHOR                                                                          \
    PSTR("authorName", 0, NULL, "the commit's author (default: username, else kite)"),        \
    PSTR("authorEmail", 0, NULL, "the author's e-mail (default: <name>@kite.local)")

const type_def tasks__git[] = {
    {
        .name = "git.clone",
        .hooks = &clone_hooks,
        .needs = git_needs,
        .aliases = ALIASES("io.kestra.plugin.git.Clone"),
        .desc = "Clone a Git repository into the working directory (output directory).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, NULL, "the branch (default: the remote's HEAD)"),
                       PSTR("directory", 0, NULL, "a folder inside the working directory"),
                       PINT("depth", 0, "1", "history depth (kite clones the whole history)"),
                       PBOOL("cloneSubmodules", 0, "false", "also the submodules, recursively (a submodule on another server gets no credentials)")),
    },
    {
        .name = "git.sync_flows",
        .hooks = &sync_flows_hooks,
        .needs = git_needs,
        .aliases = ALIASES("io.kestra.plugin.git.SyncFlows"),
        .desc = "Sync the flows of a Git folder into a namespace (outputs flows, added, updated, deleted, "
                "unchanged, invalid).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_flows\"", "the folder of the flows in the repository"),
                       PSTR("targetNamespace", PF_REQUIRED, NULL, "the namespace the flows go to"),
                       PBOOL("includeChildNamespaces", 0, "false", "subfolders are child namespaces"),
                       PBOOL("delete", 0, "false", "delete the namespace's flows that no file names"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing"),
                       PBOOL("ignoreInvalidFlows", 0, "false", "kite always skips invalid files (and reports them)")),
    },
    {
        .name = "git.sync_namespace_files",
        .hooks = &sync_ns_files_hooks,
        .needs = git_needs,
        .aliases = ALIASES("io.kestra.plugin.git.SyncNamespaceFiles"),
        .desc = "Sync namespace files from a Git folder (outputs added, updated, deleted, unchanged).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_files\"", "the folder in the repository"),
                       PSTR("namespace", 0, "\"{{ flow.namespace }}\"", "the namespace"), PBOOL("delete", 0, "false", "delete what the source no longer has"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing")),
    },
    {
        .name = "git.push_flows",
        .hooks = &push_flows_hooks,
        .needs = git_needs,
        .aliases = ALIASES("io.kestra.plugin.git.PushFlows"),
        .desc = "Commit and push a namespace's flows to a Git folder (outputs commitId, commitURL, flows: the "
                "diff file, added, updated, deleted, unchanged).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_flows\"", "the folder in the repository"),
                       PSTR("sourceNamespace", 0, "\"{{ flow.namespace }}\"", "the namespace"),
                       PSTR("targetNamespace", 0, NULL, "the namespace written in the files (default: as stored)"),
                       PANY("flows", 0, "\"**\"", "flow ids or globs"),
                       PBOOL("includeChildNamespaces", 0, "false", "child namespaces too"), PBOOL("delete", 0, "true", "delete what the source no longer has"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing"), PSTR("commitMessage", 0, NULL, "the commit message"),
                       PANY("author", 0, NULL, "name and email"), P_GIT_AUTHOR),
    },
    {
        .name = "git.push_namespace_files",
        .hooks = &push_ns_files_hooks,
        .needs = git_needs,
        .aliases = ALIASES("io.kestra.plugin.git.PushNamespaceFiles"),
        .desc = "Commit and push namespace files to a Git folder (outputs commitId, commitURL, files: the diff "
                "file, added, updated, deleted, unchanged).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_files\"", "the folder in the repository"),
                       PSTR("namespace", 0, "\"{{ flow.namespace }}\"", "the namespace"), PANY("files", 0, "\"**\"", "globs"),
                       PBOOL("delete", 0, "true", "delete what the source no longer has"), PBOOL("dryRun", 0, "false", "report only, change nothing"),
                       PSTR("commitMessage", 0, NULL, "the commit message"), PANY("author", 0, NULL, "name and email"),
                       P_GIT_AUTHOR),
    },
    {
        .name = "git.push",
        .hooks = &push_hooks,
        .needs = git_needs,
        .aliases = ALIASES("io.kestra.plugin.git.Push"),
        .desc = "Clone a branch (created when missing), add inputFiles and namespaceFiles, commit and push "
                "(outputs commitId, commitURL, branch).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", PF_REQUIRED, NULL, "the branch"),
                       PSTR("directory", 0, NULL, "where the clone is left in the WorkingDirectory"),
                       PSTR("commitMessage", PF_REQUIRED, NULL, "the commit message"),
                       PANY("author", 0, NULL, "name and email"), P_GIT_AUTHOR,
                       PANY("addFilesPattern", 0, "[\".\"]", "globs of the files to add"),
                       PANY("inputFiles", 0, NULL, "files to write before the commit (name -> content or URI)"),
                       PANY("namespaceFiles", 0, NULL, "{enabled, include}: the namespace's files to add"),
                       PBOOL("cloneSubmodules", 0, "false", "not done by kite"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing")),
    },
};

const size_t tasks__git_count = sizeof tasks__git / sizeof tasks__git[0];
