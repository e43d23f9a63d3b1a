/*
 * notify_mail.c: the mail types of the notify family, MailSend and
 * MailExecution (io.kestra.plugin.notifications.mail.*,
 * io.kestra.plugin.email.*), sent over SMTP with httpc_smtp_send
 * (util/httpc.h). Their entries are in notify.c's table.
 *
 * Kestra's transportStrategy maps to libcurl's: SMTP is plain, SMTPS (the
 * default) is TLS from the start, SMTP_TLS is STARTTLS (required); the port
 * defaults to 25, 465 and 587 respectively. `to` and `cc` are ';'-separated
 * (',' too). Attachments and embedded images are [{uri, name, contentType}]
 * of storage files, each at most 25 MiB; an embedded image is reached from
 * the HTML as cid:<name>. The password is masked in logs.
 */
#include "tasks/notify_int.h"

#include "util/base64.h"
#include "util/httpc.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define MAIL_FILE_MAX ((size_t)25 << 20)

/* A header value, RFC 2047-encoded when it is not plain ASCII. */
static char *header_value(const char *s)
{
    int ascii = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80 || *p == '\r' || *p == '\n')
            ascii = 0;
    if (ascii)
        return xstrdup(s);
    char *b = base64_encode(s, strlen(s));
    char *out = xasprintf("=?UTF-8?B?%s?=", b);
    free(b);
    return out;
}

/* Splits a ';'- or ','-separated list into addrs (appended, malloc'd). */
static void split_addrs(const char *s, char ***v, size_t *n)
{
    while (s && *s) {
        size_t k = strcspn(s, ";,");
        const char *a = s, *z = s + k;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        if (z > a) {
            *v = xrealloc(*v, (*n + 2) * sizeof **v);
            (*v)[(*n)++] = xstrndup(a, (size_t)(z - a));
            (*v)[*n] = NULL;
        }
        s += k;
        if (*s)
            s++;
    }
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

typedef struct files {
    httpc_mail_file *v;
    buf *data;
    char **names, **types;
    size_t n;
} files;

static void files_free(files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        buf_free(&f->data[i]);
        free(f->names[i]);
        free(f->types[i]);
    }
    free(f->v);
    free(f->data);
    free(f->names);
    free(f->types);
    memset(f, 0, sizeof *f);
}

/* attachments / embeddedImages: a list of {uri, name, contentType}, or that
 * list as JSON text (Kestra takes both). */
static int read_files(task_ctx *c, const char *prop, int is_inline, files *f, kerr *e)
{
    json_t *v;
    if (task_prop(c, prop, &v, e))
        return -1;
    if (!v)
        return 0;
    if (json_is_string(v)) {
        json_t *p = json_loads(json_string_value(v), 0, NULL);
        json_decref(v);
        v = p;
    }
    if (!json_is_array(v)) {
        json_decref(v);
        return kerr_set(e, "property '%s' must be a list of {uri, name, contentType}", prop);
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        const char *uri = json_string_value(json_object_get(it, "uri"));
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *ct = json_string_value(json_object_get(it, "contentType"));
        if (!uri || !name || !*name) {
            json_decref(v);
            return kerr_set(e, "property '%s[%zu]' needs uri and name", prop, i);
        }
        size_t k = f->n;
        f->v = xrealloc(f->v, (k + 1) * sizeof *f->v);
        f->data = xrealloc(f->data, (k + 1) * sizeof *f->data);
        f->names = xrealloc(f->names, (k + 1) * sizeof *f->names);
        f->types = xrealloc(f->types, (k + 1) * sizeof *f->types);
        buf_init(&f->data[k], 0);
        f->names[k] = xstrdup(name);
        f->types[k] = xstrdup(ct ? ct : "application/octet-stream");
        f->n++;
        kerr se = KERR_INIT;
        if (storage_read_all(c->storage, uri, MAIL_FILE_MAX, &f->data[k], &se)) {
            kerr_set(e, "property '%s[%zu]': %s", prop, i, se.msg);
            kerr_clear(&se);
            json_decref(v);
            return -1;
        }
    }
    json_decref(v);
    return 0;
}

static task_result mail_send(task_ctx *c, const notify_exec *x, kerr *e)
{
    char *host = NULL, *user = NULL, *pw = NULL, *strategy = NULL, *from = NULL, *to = NULL,
         *cc = NULL, *subject = NULL, *html = NULL, *text = NULL;
    char **rcpt = NULL, **hdrs = NULL, **tolist = NULL, **cclist = NULL;
    size_t nrcpt = 0, nto = 0, ncc = 0, nh = 0;
    json_t *trusted = NULL;
    files f;
    memset(&f, 0, sizeof f);
    buf dflt_html = BUF_INIT, dflt_text = BUF_INIT, dflt_subj = BUF_INIT, toh = BUF_INIT,
        cch = BUF_INIT;
    task_result r = TASK_FAILED;
    int64_t port, timeout;
    int verify;
    if (tasks__prop_text(c, "host", NULL, &host, e) ||
        tasks__prop_text(c, "transportStrategy", "SMTPS", &strategy, e))
        goto out;
    if (!host || !*host) {
        kerr_set(e, "property 'host' is required");
        goto out;
    }
    httpc_smtp_tls tls;
    long dport;
    if (!strcmp(strategy, "SMTP")) {
        tls = HTTPC_SMTP_PLAIN;
        dport = 25;
    } else if (!strcmp(strategy, "SMTPS")) {
        tls = HTTPC_SMTP_IMPLICIT;
        dport = 465;
    } else if (!strcmp(strategy, "SMTP_TLS")) {
        tls = HTTPC_SMTP_STARTTLS;
        dport = 587;
    } else {
        kerr_set(e, "property 'transportStrategy': %s is not supported by kite "
                    "(SMTP, SMTPS or SMTP_TLS)", strategy);
        goto out;
    }
    if (task_prop_int(c, "port", dport, &port, e) ||
        task_prop_int(c, "sessionTimeout", 10000, &timeout, e) ||
        task_prop_bool(c, "verifyServerIdentity", 1, &verify, e) ||
        task_prop(c, "trustedHosts", &trusted, e) ||
        tasks__prop_text(c, "username", NULL, &user, e) ||
        tasks__prop_text(c, "password", NULL, &pw, e) ||
        tasks__prop_text(c, "from", NULL, &from, e) || tasks__prop_text(c, "to", NULL, &to, e) ||
        tasks__prop_text(c, "cc", NULL, &cc, e) ||
        tasks__prop_text(c, "subject", NULL, &subject, e) ||
        tasks__prop_text(c, "htmlTextContent", NULL, &html, e) ||
        tasks__prop_text(c, "plainTextContent", NULL, &text, e))
        goto out;
    if (port < 1 || port > 65535) {
        kerr_set(e, "property 'port' must be between 1 and 65535 (got %lld)", (long long)port);
        goto out;
    }
    task_secret(c, pw);
    if (!from || !*from) {
        kerr_set(e, "property 'from' is required");
        goto out;
    }
    split_addrs(to, &tolist, &nto);
    split_addrs(cc, &cclist, &ncc);
    if (nto + ncc == 0) {
        kerr_set(e, "property 'to' (or 'cc') must name at least one recipient");
        goto out;
    }
    if (read_files(c, "attachments", 0, &f, e))
        goto out;
    size_t nattach = f.n;
    if (read_files(c, "embeddedImages", 1, &f, e))
        goto out;
    for (size_t i = 0; i < f.n; i++) {
        f.v[i] = (httpc_mail_file){.name = f.names[i], .content_type = f.types[i],
                                   .data = f.data[i].data, .len = f.data[i].len,
                                   .is_inline = i >= nattach};
    }
    if (x) {
        if (!html) {
            notify__exec_html(x, &dflt_html);
            html = buf_steal(&dflt_html);
        }
        if (!text) {
            notify__exec_text(x, &dflt_text);
            text = buf_steal(&dflt_text);
        }
        if (!subject) {
            notify__exec_title(x, &dflt_subj);
            subject = buf_steal(&dflt_subj);
        }
    }
    rcpt = xcalloc(nto + ncc + 1, sizeof *rcpt);
    for (size_t i = 0; i < nto; i++) {
        rcpt[nrcpt++] = tolist[i];
        buf_printf(&toh, "%s%s", i ? ", " : "", tolist[i]);
    }
    for (size_t i = 0; i < ncc; i++) {
        rcpt[nrcpt++] = cclist[i];
        buf_printf(&cch, "%s%s", i ? ", " : "", cclist[i]);
    }
    hdrs = xcalloc(5, sizeof *hdrs);
    char *subj_enc = header_value(subject ? subject : "");
    hdrs[nh++] = xasprintf("From: %s", from);
    if (nto)
        hdrs[nh++] = xasprintf("To: %s", buf_str(&toh));
    if (ncc)
        hdrs[nh++] = xasprintf("Cc: %s", buf_str(&cch));
    hdrs[nh++] = xasprintf("Subject: %s", subj_enc);
    free(subj_enc);
    int insecure = !verify;
    size_t ti;
    json_t *th;
    json_array_foreach(trusted, ti, th)
        if (json_is_string(th) && (!strcmp(json_string_value(th), "*") ||
                                   !strcmp(json_string_value(th), host)))
            insecure = 1;
    const char *ca = getenv("SSL_CERT_FILE");
    httpc_mail m = {
        .host = host,
        .port = (long)port,
        .tls = tls,
        .username = user && *user ? user : NULL,
        .password = pw,
        .from = from,
        .rcpt = (const char *const *)rcpt,
        .headers = (const char *const *)hdrs,
        .text = text && *text ? text : NULL,
        .html = html && *html ? html : NULL,
        .files = f.v,
        .nfiles = f.n,
        .timeout_ms = (long)timeout,
        .insecure = insecure,
        .ca_file = ca && *ca ? ca : NULL,
    };
    if (httpc_smtp_send(&m, e)) {
        kerr_prefix(e, "mail");
        goto out;
    }
    task_log(c, LEVEL_INFO, "mail: sent to %zu recipient%s through %s://%s:%lld", nrcpt,
             nrcpt == 1 ? "" : "s", tls == HTTPC_SMTP_IMPLICIT ? "smtps" : "smtp", host,
             (long long)port);
    r = TASK_SUCCESS;
out:
    free(host);
    free(user);
    if (pw)
        explicit_bzero(pw, strlen(pw));
    free(pw);
    free(strategy);
    free(from);
    free(to);
    free(cc);
    free(subject);
    free(html);
    free(text);
    free(rcpt);
    free_strv(tolist, nto);
    free_strv(cclist, ncc);
    free_strv(hdrs, nh);
    json_decref(trusted);
    files_free(&f);
    buf_free(&dflt_html);
    buf_free(&dflt_text);
    buf_free(&dflt_subj);
    buf_free(&toh);
    buf_free(&cch);
    return r;
}

static task_result mail_send_run(task_ctx *c, kerr *e)
{
    return mail_send(c, NULL, e);
}

static task_result mail_exec_run(task_ctx *c, kerr *e)
{
    notify_exec x;
    if (notify__exec_load(c, &x, e))
        return TASK_FAILED;
    task_result r = mail_send(c, &x, e);
    notify__exec_free(&x);
    return r;
}

const struct task_hooks notify__mail_send_hooks = {.run = mail_send_run};
const struct task_hooks notify__mail_exec_hooks = {.run = mail_exec_run};
