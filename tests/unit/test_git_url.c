/*
 * test_git_url.c: the commitURL of the Git push tasks, built as Kestra's
 * GitService.getHttpUrl and AbstractPushTask.buildCommitUrl build it, for
 * the URL forms the e2e tests cannot reach (GitHub's scp-like SSH, a token
 * in the URL, Bitbucket, Azure DevOps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "tasks/tasks_int.h"

static void url_is(const char *url, const char *want)
{
    char *got = tasks__git_commit_url(url, "main", "abc123");
    assert_string_equal(got, want);
    free(got);
}

static void test_commit_urls(void **state)
{
    (void)state;
    url_is("https://github.com/kestra-io/flows", "https://github.com/kestra-io/flows/commit/abc123");
    /* .git kept, as Kestra keeps it */
    url_is("https://github.com/kestra-io/flows.git", "https://github.com/kestra-io/flows.git/commit/abc123");
    /* credentials dropped */
    url_is("https://bot:ghp_secret@github.com/a/b", "https://github.com/a/b/commit/abc123");
    url_is("ssh://git@127.0.0.1:2222/srv/repo.git", "ssh://127.0.0.1:2222/srv/repo.git/commit/abc123");
    /* scp-like SSH becomes https */
    url_is("git@github.com:kestra-io/flows.git", "https://github.com/kestra-io/flows.git/commit/abc123");
    url_is("git@ssh.gitlab.example.com:team/flows", "https://gitlab.example.com/team/flows/commit/abc123");
    /* Bitbucket says commits */
    url_is("https://bitbucket.org/team/flows", "https://bitbucket.org/team/flows/commits/abc123");
    url_is("git@bitbucket.org:team/flows.git", "https://bitbucket.org/team/flows.git/commits/abc123");
    /* Azure DevOps: v3/ dropped, _git before the repository, the branch as refName */
    url_is("git@ssh.dev.azure.com:v3/org/proj/repo",
           "https://dev.azure.com/org/proj/_git/repo/commit/abc123?refName=refs%2Fheads%2Fmain");
    url_is("https://dev.azure.com/org/proj/_git/repo",
           "https://dev.azure.com/org/proj/_git/repo/commit/abc123?refName=refs%2Fheads%2Fmain");
    /* a local repository: the path and the suffix */
    url_is("file:///srv/git/repo.git", "file:///srv/git/repo.git/commit/abc123");
    url_is("/srv/git/repo.git", "/srv/git/repo.git/commit/abc123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
