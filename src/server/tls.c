/*
 * tls.c: HTTPS for the server (libmicrohttpd over GnuTLS).
 *
 * libmicrohttpd takes the certificate and key as PEM texts
 * (MHD_OPTION_HTTPS_MEM_CERT, _KEY) and only says "could not start" when
 * they are wrong: server_tls_check loads them with GnuTLS first, the way
 * libmicrohttpd will, so that a bad file is an error naming the file and
 * the reason before anything listens. The priority string defaults to TLS
 * 1.2 and 1.3 with AEAD ciphers and forward-secret key exchanges
 * (SERVER_TLS_PRIORITIES).
 *
 * Everything else (the connection guard, the limits, event streams) runs
 * over TLS unchanged: the guard's deadlines count the handshake as part of
 * the headers, and it closes a connection by shutdown(2) of its socket,
 * which ends a TLS session as well as a plain one.
 */
#include "server/server_int.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

int server_tls_check(const char *cert_pem, const char *cert_name, const char *key_pem, const char *key_name,
                     const char *priorities, kerr *e)
{
    if (!cert_pem || !key_pem)
        return kerr_setc(e, KERR_INVALID, "TLS needs both %s and %s", cert_name, key_name);
    gnutls_datum_t c = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
    gnutls_datum_t k = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
    gnutls_x509_crt_t *crts = NULL;
    unsigned ncrt = 0;
    int rc = gnutls_x509_crt_list_import2(&crts, &ncrt, &c, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || ncrt == 0)
        return kerr_setc(e, KERR_INVALID, "%s: not a PEM certificate (%s)", cert_name,
                         rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
    for (unsigned i = 0; i < ncrt; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    gnutls_x509_privkey_t pk;
    gnutls_x509_privkey_init(&pk);
    rc = gnutls_x509_privkey_import2(pk, &k, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
    gnutls_x509_privkey_deinit(pk);
    if (rc < 0)
        return kerr_setc(e, KERR_INVALID, "%s: not a PEM private key without a passphrase (%s)", key_name,
                         gnutls_strerror(rc));
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0)
        return kerr_set(e, "cannot allocate TLS credentials");
    rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
        return kerr_setc(e, KERR_INVALID, "%s does not match the certificate %s", key_name, cert_name);
    if (rc < 0)
        return kerr_setc(e, KERR_INVALID, "%s and %s: %s", cert_name, key_name, gnutls_strerror(rc));
    gnutls_priority_t pc;
    const char *where = NULL;
    rc = gnutls_priority_init(&pc, priorities ? priorities : SERVER_TLS_PRIORITIES, &where);
    if (rc < 0)
        return kerr_setc(e, KERR_INVALID, "server.tls.priorities: %s at '%.40s'", gnutls_strerror(rc),
                         where ? where : "");
    gnutls_priority_deinit(pc);
    return 0;
}
