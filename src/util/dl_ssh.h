/*
 * dl_ssh.h: libssh (SSH and SFTP tasks, Git host keys), loaded on first use (util/dl.h).
 * Include it instead of the library's header; call dl_ssh_load() first.
 */
#ifndef KITE_UTIL_DL_SSH_H
#define KITE_UTIL_DL_SSH_H

#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_SSH(X) \
    X(sftp_attributes_free) \
    X(sftp_canonicalize_path) \
    X(sftp_close) \
    X(sftp_closedir) \
    X(sftp_free) \
    X(sftp_get_error) \
    X(sftp_init) \
    X(sftp_mkdir) \
    X(sftp_new) \
    X(sftp_open) \
    X(sftp_opendir) \
    X(sftp_read) \
    X(sftp_readdir) \
    X(sftp_rename) \
    X(sftp_stat) \
    X(sftp_unlink) \
    X(sftp_write) \
    X(ssh_channel_close) \
    X(ssh_channel_free) \
    X(ssh_channel_get_exit_status) \
    X(ssh_channel_is_closed) \
    X(ssh_channel_is_eof) \
    X(ssh_channel_new) \
    X(ssh_channel_open_session) \
    X(ssh_channel_poll_timeout) \
    X(ssh_channel_read_nonblocking) \
    X(ssh_channel_read_timeout) \
    X(ssh_channel_request_exec) \
    X(ssh_channel_request_send_signal) \
    X(ssh_channel_send_eof) \
    X(ssh_clean_pubkey_hash) \
    X(ssh_connect) \
    X(ssh_disconnect) \
    X(ssh_free) \
    X(ssh_get_error) \
    X(ssh_get_fingerprint_hash) \
    X(ssh_get_publickey_hash) \
    X(ssh_get_server_publickey) \
    X(ssh_init) \
    X(ssh_key_cmp) \
    X(ssh_key_free) \
    X(ssh_key_type) \
    X(ssh_known_hosts_parse_line) \
    X(ssh_knownhosts_entry_free) \
    X(ssh_new) \
    X(ssh_options_parse_config) \
    X(ssh_options_set) \
    X(ssh_pki_import_privkey_base64) \
    X(ssh_pki_import_pubkey_base64) \
    X(ssh_session_is_known_server) \
    X(ssh_string_free_char) \
    X(ssh_userauth_password) \
    X(ssh_userauth_publickey) \
    X(ssh_userauth_publickey_auto)

struct dl_ssh {
    DL_SSH(DL_SLOT)
};
extern struct dl_ssh dl_ssh;

/* Each call goes through the table. */
#define sftp_attributes_free (dl_ssh.sftp_attributes_free)
#define sftp_canonicalize_path (dl_ssh.sftp_canonicalize_path)
#define sftp_close (dl_ssh.sftp_close)
#define sftp_closedir (dl_ssh.sftp_closedir)
#define sftp_free (dl_ssh.sftp_free)
#define sftp_get_error (dl_ssh.sftp_get_error)
#define sftp_init (dl_ssh.sftp_init)
#define sftp_mkdir (dl_ssh.sftp_mkdir)
#define sftp_new (dl_ssh.sftp_new)
#define sftp_open (dl_ssh.sftp_open)
#define sftp_opendir (dl_ssh.sftp_opendir)
#define sftp_read (dl_ssh.sftp_read)
#define sftp_readdir (dl_ssh.sftp_readdir)
#define sftp_rename (dl_ssh.sftp_rename)
#define sftp_stat (dl_ssh.sftp_stat)
#define sftp_unlink (dl_ssh.sftp_unlink)
#define sftp_write (dl_ssh.sftp_write)
#define ssh_channel_close (dl_ssh.ssh_channel_close)
#define ssh_channel_free (dl_ssh.ssh_channel_free)
#define ssh_channel_get_exit_status (dl_ssh.ssh_channel_get_exit_status)
#define ssh_channel_is_closed (dl_ssh.ssh_channel_is_closed)
#define ssh_channel_is_eof (dl_ssh.ssh_channel_is_eof)
#define ssh_channel_new (dl_ssh.ssh_channel_new)
#define ssh_channel_open_session (dl_ssh.ssh_channel_open_session)
#define ssh_channel_poll_timeout (dl_ssh.ssh_channel_poll_timeout)
#define ssh_channel_read_nonblocking (dl_ssh.ssh_channel_read_nonblocking)
#define ssh_channel_read_timeout (dl_ssh.ssh_channel_read_timeout)
#define ssh_channel_request_exec (dl_ssh.ssh_channel_request_exec)
#define ssh_channel_request_send_signal (dl_ssh.ssh_channel_request_send_signal)
#define ssh_channel_send_eof (dl_ssh.ssh_channel_send_eof)
#define ssh_clean_pubkey_hash (dl_ssh.ssh_clean_pubkey_hash)
#define ssh_connect (dl_ssh.ssh_connect)
#define ssh_disconnect (dl_ssh.ssh_disconnect)
#define ssh_free (dl_ssh.ssh_free)
#define ssh_get_error (dl_ssh.ssh_get_error)
#define ssh_get_fingerprint_hash (dl_ssh.ssh_get_fingerprint_hash)
#define ssh_get_publickey_hash (dl_ssh.ssh_get_publickey_hash)
#define ssh_get_server_publickey (dl_ssh.ssh_get_server_publickey)
#define ssh_init (dl_ssh.ssh_init)
#define ssh_key_cmp (dl_ssh.ssh_key_cmp)
#define ssh_key_free (dl_ssh.ssh_key_free)
#define ssh_key_type (dl_ssh.ssh_key_type)
#define ssh_known_hosts_parse_line (dl_ssh.ssh_known_hosts_parse_line)
#define ssh_knownhosts_entry_free (dl_ssh.ssh_knownhosts_entry_free)
#define ssh_new (dl_ssh.ssh_new)
#define ssh_options_parse_config (dl_ssh.ssh_options_parse_config)
#define ssh_options_set (dl_ssh.ssh_options_set)
#define ssh_pki_import_privkey_base64 (dl_ssh.ssh_pki_import_privkey_base64)
#define ssh_pki_import_pubkey_base64 (dl_ssh.ssh_pki_import_pubkey_base64)
#define ssh_session_is_known_server (dl_ssh.ssh_session_is_known_server)
#define ssh_string_free_char (dl_ssh.ssh_string_free_char)
#define ssh_userauth_password (dl_ssh.ssh_userauth_password)
#define ssh_userauth_publickey (dl_ssh.ssh_userauth_publickey)
#define ssh_userauth_publickey_auto (dl_ssh.ssh_userauth_publickey_auto)

#endif
