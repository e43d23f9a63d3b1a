/*
 * httpc_smtp.c: the SMTP part of kite's one libcurl client (httpc.h, the
 * block "SMTP"): one message per call, its MIME tree built with curl_mime.
 *
 * DESIGN
 * The message is multipart/mixed: first its body, then one part per
 * attachment (base64, with its file name). The body is
 * multipart/alternative holding the text part and the HTML part; when
 * there are inline images, the HTML part is a multipart/related holding the
 * HTML and the images, each with "Content-ID: <name>" so the HTML reaches
 * it as cid:name. Only smtp and smtps are allowed as protocols. Each call
 * makes its own easy handle: mail is rare enough that a connection cache
 * would buy nothing.
 */
#include "util/httpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/httpc_int.h"
#include "util/mem.h"


static void smtp_describe(CURL *h, CURLcode rc, const char *errbuf, buf *out)
{
    long oserr = 0, code = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        buf_printf(out, "resolve: %s", detail);
        return;
    case CURLE_COULDNT_CONNECT:
        buf_printf(out, "connect: %s", oserr ? strerror((int)oserr) : detail);
        return;
    case CURLE_OPERATION_TIMEDOUT:
        buf_printf(out, "timeout: %s", detail);
        return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        buf_printf(out, "TLS: %s", detail);
        return;
    case CURLE_USE_SSL_FAILED:
        buf_puts(out, "STARTTLS: the server does not offer it");
        return;
    case CURLE_LOGIN_DENIED:
        buf_printf(out, "AUTH: the server refused the user or password (%ld)", code);
        return;
    default:
        break;
    }
    if (code >= 400)
        buf_printf(out, "the server answered %ld: %s", code, detail);
    else
        buf_puts(out, detail);
}

/* "Name <a@b>" -> "<a@b>"; "a@b" -> "<a@b>" */
static char *envelope_addr(const char *s)
{
    const char *lt = strchr(s, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return xstrndup(lt, (size_t)(gt - lt + 1));
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    return xasprintf("<%.*s>", (int)n, s);
}

static void add_file(curl_mime *mime, const httpc_mail_file *f)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_data(p, f->data ? f->data : "", f->len);
    curl_mime_type(p, f->content_type ? f->content_type : "application/octet-stream");
    curl_mime_encoder(p, "base64");
    curl_mime_filename(p, f->name);
    if (f->is_inline) {
        char *cid = xasprintf("Content-ID: <%s>", f->name);
        char *disp = xasprintf("Content-Disposition: inline; filename=\"%s\"", f->name);
        struct curl_slist *hs = curl_slist_append(NULL, cid);
        hs = curl_slist_append(hs, disp);
        curl_mime_headers(p, hs, 1);
        free(cid);
        free(disp);
    }
}

int httpc_smtp_send(const httpc_mail *m, kerr *e)
{
    const char *why = httpc_unavailable();
    if (why)
        return kerr_setc(e, KERR_UNAVAILABLE, "SMTP: %s", why);
    const char *scheme = m->tls == HTTPC_SMTP_IMPLICIT ? "smtps" : "smtp";
    char *url = xasprintf("%s://%s:%ld", scheme, m->host, m->port);
    CURL *h = curl_easy_init();
    if (!h) {
        free(url);
        return kerr_set(e, "SMTP: out of memory (libcurl handle)");
    }
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, m->timeout_ms > 0 ? m->timeout_ms : 60000L);
    if (m->tls == HTTPC_SMTP_STARTTLS)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (m->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (m->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, m->ca_file);
    if (m->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, m->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, m->password ? m->password : "");
    }
    char *from = envelope_addr(m->from);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    struct curl_slist *rcpt = NULL, *hdrs = NULL;
    for (const char *const *r = m->rcpt; r && *r; r++) {
        char *a = envelope_addr(*r);
        rcpt = curl_slist_append(rcpt, a);
        free(a);
    }
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    char date[80];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    hdrs = curl_slist_append(hdrs, date);
    for (const char *const *hd = m->headers; hd && *hd; hd++)
        hdrs = curl_slist_append(hdrs, *hd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    curl_mime *mime = curl_mime_init(h);
    curl_mimepart *body = curl_mime_addpart(mime);
    curl_mime *alt = curl_mime_init(h);
    if (m->text || !m->html) {
        curl_mimepart *p = curl_mime_addpart(alt);
        curl_mime_data(p, m->text ? m->text : "", CURL_ZERO_TERMINATED);
        curl_mime_type(p, "text/plain; charset=utf-8");
        curl_mime_encoder(p, "quoted-printable");
    }
    size_t ninline = 0;
    for (size_t i = 0; i < m->nfiles; i++)
        ninline += m->files[i].is_inline != 0;
    if (m->html) {
        curl_mime *holder = alt;
        curl_mime *rel = NULL;
        if (ninline) {
            rel = curl_mime_init(h);
            holder = rel;
        }
        curl_mimepart *p = curl_mime_addpart(holder);
        curl_mime_data(p, m->html, CURL_ZERO_TERMINATED);
        curl_mime_type(p, "text/html; charset=utf-8");
        curl_mime_encoder(p, "quoted-printable");
        if (rel) {
            for (size_t i = 0; i < m->nfiles; i++)
                if (m->files[i].is_inline)
                    add_file(rel, &m->files[i]);
            curl_mimepart *rp = curl_mime_addpart(alt);
            curl_mime_subparts(rp, rel);
            curl_mime_type(rp, "multipart/related");
        }
    }
    curl_mime_subparts(body, alt);
    curl_mime_type(body, "multipart/alternative");
    for (size_t i = 0; i < m->nfiles; i++)
        if (!m->files[i].is_inline)
            add_file(mime, &m->files[i]);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    httpc_guard guard;
    httpc__guard_install(h, &guard, NULL);

    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        buf msg = BUF_INIT;
        if (guard.refused[0] && rc == CURLE_COULDNT_CONNECT)
            buf_puts(&msg, guard.refused);
        else
            smtp_describe(h, rc, errbuf, &msg);
        kerr_set(e, "SMTP %s: %s", url, buf_str(&msg));
        buf_free(&msg);
        ret = -1;
    }
    curl_mime_free(mime);
    curl_slist_free_all(rcpt);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    free(from);
    free(url);
    return ret;
}
