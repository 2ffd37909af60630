/* `mpirun -np 2 glf train` as a user runs it: every rank announces its
 * device and pid; SIGINT to one rank stops both at the same step with a
 * checkpoint (exit 0); a rank killed mid-run, or one that stops answering
 * (--dist-timeout), makes mpirun exit non-zero within a bounded time,
 * naming the rank; other commands refuse to run as several ranks. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "glf/checkpoint.h"

static char err_[65536];

static double now_(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap_(void)
{
    nanosleep(&(struct timespec){0, 100000000}, NULL);
}

static void slurp_(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(err_, 1, sizeof err_ - 1, f) : 0;
    err_[n] = '\0';
    if (f)
        fclose(f);
}

/* mpirun -np 2 glf train ... (each rank its own kernel caches), stdout and
 * stderr to errfile, in a process group of its own. */
static pid_t launch_(const char *out, const char *timeout, const char *errfile)
{
    const char *mpirun = getenv("GLF_MPIRUN"), *cli = getenv("GLF_CLI");
    assert_non_null(mpirun);
    assert_non_null(cli);
    char sample[1024];
    snprintf(sample, sizeof sample, "%s", tu_src_path("data/fashion-mnist-sample.tar.zst"));
    /* Each rank its own caches, copies of the warm ones at the first launch. */
    const char *per_rank =
        "r=rank$OMPI_COMM_WORLD_RANK; p=\"$POCL_CACHE_DIR/$r\" g=\"$GLF_CACHE_DIR/$r\"; "
        "w=\"$GLF_WARM_CACHE\"; if [ -n \"$w\" ] && [ ! -d \"$p\" ]; then "
        "mkdir -p \"$p\" \"$g\" && cp -a \"$w/pocl/.\" \"$p/\" && cp -a \"$w/glf/.\" \"$g/\"; fi; "
        "POCL_CACHE_DIR=\"$p\" GLF_CACHE_DIR=\"$g\" exec \"$0\" \"$@\"";
    char *args[] = {(char *)mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2", "sh",
                    "-c", (char *)per_rank, (char *)cli, "train", "--data", sample, "--batch",
                    "24", "--conv1", "4", "--conv2", "8", "--fc", "32", "--latent", "4",
                    "--flow-width", "8", "--epochs", "1000", "--no-images", "--dist-timeout",
                    (char *)timeout, "--out", (char *)out, NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(mpirun, args);
        _exit(127);
    }
    return pid;
}

/* Exit status of pid within limit seconds, or -1 (then the group is killed). */
static int wait_for_(pid_t pid, double limit, double *took)
{
    double t0 = now_();
    int st;
    while (now_() - t0 < limit) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            *took = now_() - t0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        nap_();
    }
    kill(-pid, SIGTERM);
    nap_();
    kill(-pid, SIGKILL);
    waitpid(pid, &st, 0);
    *took = now_() - t0;
    return -1;
}

static int lines_(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Wait until the log holds `steps` steps; then the pid rank `rank` printed. */
static pid_t rank_pid_after_(const char *logp, int steps, const char *errfile, int rank)
{
    double t0 = now_();
    while (lines_(logp) < 1 + steps && now_() - t0 < 300)
        nap_();
    slurp_(errfile);
    if (lines_(logp) < 1 + steps)
        fail_msg("training did not reach step %d in 300 s; its output:\n%s", steps, err_);
    char key[64];
    snprintf(key, sizeof key, "rank %d/2 (pid ", rank);
    const char *at = strstr(err_, key);
    if (!at)
        fail_msg("no start-up line of rank %d in the output:\n%s", rank, err_);
    return (pid_t)atol(at + strlen(key));
}

typedef struct paths_ {
    char *dir;
    char out[1024], logp[1100], ck[1100], errfile[1100];
} paths_;

static paths_ paths_new_(const char *tag)
{
    paths_ p;
    p.dir = tu_tmpdir(tag);
    snprintf(p.out, sizeof p.out, "%s/run", p.dir);
    snprintf(p.logp, sizeof p.logp, "%s/log.csv", p.out);
    snprintf(p.ck, sizeof p.ck, "%s/checkpoint.glf", p.out);
    snprintf(p.errfile, sizeof p.errfile, "%s/mpirun.txt", p.dir);
    return p;
}

static void test_sigint_on_one_rank(void **state)
{
    (void)state;
    paths_ p = paths_new_("dist-int");
    pid_t pid = launch_(p.out, "120", p.errfile);
    pid_t r1 = rank_pid_after_(p.logp, 3, p.errfile, 1);
    slurp_(p.errfile);
    assert_non_null(strstr(err_, "glf train: rank 0/2 (pid ")); /* both announce a device */
    assert_non_null(strstr(err_, "using device"));
    kill(r1, SIGINT);
    double took;
    int rc = wait_for_(pid, 120, &took);
    slurp_(p.errfile);
    print_message("  SIGINT to rank 1: mpirun exit %d after %.1f s\n", rc, took);
    if (rc != 0)
        fail_msg("mpirun exit %d, expected 0; its output:\n%s", rc, err_);
    assert_non_null(strstr(err_, "stopped at epoch"));
    /* The checkpoint holds the step the log ends at: both ranks stopped there. */
    glf_ckpt *ck;
    TU_OK(glf_ckpt_read(p.ck, &ck));
    int64_t t;
    TU_OK(glf_ckpt_get_int(ck, "train.t", &t));
    glf_ckpt_free(ck);
    assert_int_equal(t, lines_(p.logp) - 1);
    assert_true(t >= 3);
    free(p.dir);
}

static void test_killed_rank(void **state)
{
    (void)state;
    paths_ p = paths_new_("dist-kill");
    pid_t pid = launch_(p.out, "120", p.errfile);
    pid_t r1 = rank_pid_after_(p.logp, 2, p.errfile, 1);
    kill(r1, SIGKILL);
    double took;
    int rc = wait_for_(pid, 90, &took);
    slurp_(p.errfile);
    print_message("  rank 1 killed: mpirun exit %d after %.1f s\n", rc, took);
    if (rc <= 0)
        fail_msg("mpirun exit %d, expected non-zero within 90 s; its output:\n%s", rc, err_);
    assert_non_null(strstr(err_, "rank 1"));
    free(p.dir);
}

static void test_rank_that_stops_answering(void **state)
{
    (void)state;
    paths_ p = paths_new_("dist-stop");
    pid_t pid = launch_(p.out, "5", p.errfile);
    pid_t r1 = rank_pid_after_(p.logp, 2, p.errfile, 1);
    kill(r1, SIGSTOP);
    double took;
    int rc = wait_for_(pid, 90, &took);
    kill(r1, SIGKILL); /* in case it outlived mpirun */
    slurp_(p.errfile);
    print_message("  rank 1 stopped: mpirun exit %d after %.1f s\n", rc, took);
    if (rc <= 0)
        fail_msg("mpirun exit %d, expected non-zero within 90 s; its output:\n%s", rc, err_);
    assert_non_null(strstr(err_, "rank 0 of 2"));
    assert_non_null(strstr(err_, "no answer from the other ranks"));
    free(p.dir);
}

static void test_other_commands_refuse_ranks(void **state)
{
    (void)state;
    const char *cli = getenv("GLF_CLI");
    assert_non_null(cli);
    char *dir = tu_tmpdir("dist-sample"), errfile[1024];
    snprintf(errfile, sizeof errfile, "%s/err.txt", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 2);
        setenv("OMPI_COMM_WORLD_SIZE", "2", 1); /* as mpirun -np 2 would */
        execl(cli, cli, "sample", "--ckpt", "none.glf", "-o", "x.npy", (char *)NULL);
        _exit(127);
    }
    double took;
    int rc = wait_for_(pid, 60, &took);
    slurp_(errfile);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err_, "only glf train runs on several"));
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigint_on_one_rank),
        cmocka_unit_test(test_killed_rank),
        cmocka_unit_test(test_rank_that_stops_answering),
        cmocka_unit_test(test_other_commands_refuse_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
