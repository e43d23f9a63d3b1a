/*
 * dl_git2.h: libgit2 (Git tasks and git sync), loaded on first use (util/dl.h).
 * Include it instead of the library's header; call dl_git2_load() first.
 */
#ifndef KITE_UTIL_DL_GIT2_H
#define KITE_UTIL_DL_GIT2_H

#include <git2.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_GIT2(X) \
    X(git_branch_create) \
    X(git_submodule_lookup) \
    X(git_submodule_init) \
    X(git_submodule_free) \
    X(git_repository_config) \
    X(git_config_set_string) \
    X(git_config_free) \
    X(git_buf_dispose) \
    X(git_clone) \
    X(git_clone_options_init) \
    X(git_commit_create) \
    X(git_commit_free) \
    X(git_commit_lookup) \
    X(git_commit_tree) \
    X(git_commit_tree_id) \
    X(git_credential_ssh_key_new) \
    X(git_credential_username_new) \
    X(git_credential_userpass_plaintext_new) \
    X(git_diff_free) \
    X(git_diff_num_deltas) \
    X(git_diff_options_init) \
    X(git_diff_tree_to_tree) \
    X(git_error_last) \
    X(git_index_add_all) \
    X(git_index_free) \
    X(git_index_update_all) \
    X(git_index_write) \
    X(git_index_write_tree) \
    X(git_libgit2_init) \
    X(git_oid_equal) \
    X(git_oid_tostr) \
    X(git_patch_free) \
    X(git_patch_from_diff) \
    X(git_patch_get_delta) \
    X(git_patch_get_hunk) \
    X(git_patch_num_hunks) \
    X(git_push_options_init) \
    X(git_reference_free) \
    X(git_reference_name_to_id) \
    X(git_remote_free) \
    X(git_remote_lookup) \
    X(git_remote_push) \
    X(git_remote_url) \
    X(git_repository_free) \
    X(git_repository_index) \
    X(git_repository_set_head) \
    X(git_signature_free) \
    X(git_submodule_foreach) \
    X(git_submodule_name) \
    X(git_submodule_owner) \
    X(git_submodule_open) \
    X(git_submodule_resolve_url) \
    X(git_submodule_update) \
    X(git_submodule_update_options_init) \
    X(git_submodule_url) \
    X(git_signature_now) \
    X(git_tree_free) \
    X(git_tree_lookup)

struct dl_git2 {
    DL_GIT2(DL_SLOT)
};
extern struct dl_git2 dl_git2;

/* Each call goes through the table. */
#define git_branch_create (dl_git2.git_branch_create)
#define git_submodule_lookup (dl_git2.git_submodule_lookup)
#define git_submodule_init (dl_git2.git_submodule_init)
#define git_submodule_free (dl_git2.git_submodule_free)
#define git_repository_config (dl_git2.git_repository_config)
#define git_config_set_string (dl_git2.git_config_set_string)
#define git_config_free (dl_git2.git_config_free)
#define git_buf_dispose (dl_git2.git_buf_dispose)
#define git_clone (dl_git2.git_clone)
#define git_clone_options_init (dl_git2.git_clone_options_init)
#define git_commit_create (dl_git2.git_commit_create)
#define git_commit_free (dl_git2.git_commit_free)
#define git_commit_lookup (dl_git2.git_commit_lookup)
#define git_commit_tree (dl_git2.git_commit_tree)
#define git_commit_tree_id (dl_git2.git_commit_tree_id)
#define git_credential_ssh_key_new (dl_git2.git_credential_ssh_key_new)
#define git_credential_username_new (dl_git2.git_credential_username_new)
#define git_credential_userpass_plaintext_new (dl_git2.git_credential_userpass_plaintext_new)
#define git_diff_free (dl_git2.git_diff_free)
#define git_diff_num_deltas (dl_git2.git_diff_num_deltas)
#define git_diff_options_init (dl_git2.git_diff_options_init)
#define git_diff_tree_to_tree (dl_git2.git_diff_tree_to_tree)
#define git_error_last (dl_git2.git_error_last)
#define git_index_add_all (dl_git2.git_index_add_all)
#define git_index_free (dl_git2.git_index_free)
#define git_index_update_all (dl_git2.git_index_update_all)
#define git_index_write (dl_git2.git_index_write)
#define git_index_write_tree (dl_git2.git_index_write_tree)
#define git_libgit2_init (dl_git2.git_libgit2_init)
#define git_oid_equal (dl_git2.git_oid_equal)
#define git_oid_tostr (dl_git2.git_oid_tostr)
#define git_patch_free (dl_git2.git_patch_free)
#define git_patch_from_diff (dl_git2.git_patch_from_diff)
#define git_patch_get_delta (dl_git2.git_patch_get_delta)
#define git_patch_get_hunk (dl_git2.git_patch_get_hunk)
#define git_patch_num_hunks (dl_git2.git_patch_num_hunks)
#define git_push_options_init (dl_git2.git_push_options_init)
#define git_reference_free (dl_git2.git_reference_free)
#define git_reference_name_to_id (dl_git2.git_reference_name_to_id)
#define git_remote_free (dl_git2.git_remote_free)
#define git_remote_lookup (dl_git2.git_remote_lookup)
#define git_remote_push (dl_git2.git_remote_push)
#define git_remote_url (dl_git2.git_remote_url)
#define git_repository_free (dl_git2.git_repository_free)
#define git_repository_index (dl_git2.git_repository_index)
#define git_repository_set_head (dl_git2.git_repository_set_head)
#define git_signature_free (dl_git2.git_signature_free)
#define git_submodule_foreach (dl_git2.git_submodule_foreach)
#define git_submodule_name (dl_git2.git_submodule_name)
#define git_submodule_owner (dl_git2.git_submodule_owner)
#define git_submodule_open (dl_git2.git_submodule_open)
#define git_submodule_resolve_url (dl_git2.git_submodule_resolve_url)
#define git_submodule_update (dl_git2.git_submodule_update)
#define git_submodule_update_options_init (dl_git2.git_submodule_update_options_init)
#define git_submodule_url (dl_git2.git_submodule_url)
#define git_signature_now (dl_git2.git_signature_now)
#define git_tree_free (dl_git2.git_tree_free)
#define git_tree_lookup (dl_git2.git_tree_lookup)

#endif
