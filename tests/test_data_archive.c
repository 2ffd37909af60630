/* glf data archives: the shipped sample, the bit-exact round trip IDX ->
 * pack -> read, reproducible packing, every kind of bad archive (each
 * with a message naming the file), an interrupted pack leaving nothing, and
 * the `glf pack` / `glf data info` commands. */
#include "testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "glf/data.h"

static const char *sample_(void)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s", tu_src_path("data/fashion-mnist-sample.tar.zst"));
    return p;
}

static void write_file_(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_file_(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static char *join_(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void test_sample(void **state)
{
    (void)state;
    glf_data_source src = {.archive = sample_()};
    glf_dataset tr, te;
    TU_OK(glf_dataset_load(&src, "train", &tr));
    TU_OK(glf_dataset_load(&src, "test", &te));
    assert_string_equal(tr.name, "fashion-mnist");
    assert_int_equal(tr.n, 2000);
    assert_int_equal(te.n, 500);
    assert_int_equal(tr.channels, 1);
    assert_int_equal(tr.height, 28);
    assert_int_equal(tr.width, 28);
    assert_int_equal(tr.classes, 10);
    assert_false(tr.streamed);
    int seen[10] = {0};
    for (size_t i = 0; i < tr.n; i++) {
        assert_true(tr.labels[i] < 10);
        seen[tr.labels[i]]++;
    }
    for (int c = 0; c < 10; c++)
        assert_true(seen[c] > 100); /* a real, balanced sample */
    glf_archive_info info;
    TU_OK(glf_archive_info_read(sample_(), 1, &info));
    assert_string_equal(info.manifest_sha256, tr.manifest_sha256);
    assert_int_equal(info.count[0], 2000);
    assert_int_equal(info.count[1], 500);
    glf_archive_info_free(&info);
    glf_dataset_free(&tr);
    glf_dataset_free(&te);
    /* No Debian folder where GLF_DATA_DIR points: the sample stands in. */
    setenv("GLF_DATA_DIR", "/nonexistent/glf-data", 1);
    glf_data_source fm = {.name = "fashion-mnist"};
    TU_OK(glf_dataset_load(&fm, "test", &te));
    unsetenv("GLF_DATA_DIR");
    assert_string_equal(te.name, "fashion-mnist-sample");
    assert_int_equal(te.n, 500);
    glf_dataset_free(&te);
}

/* An IDX file with the given payload. */
static void write_idx_(const char *path, int nd, const uint32_t *dims, const uint8_t *p,
                       size_t n)
{
    size_t len = 4 + 4 * (size_t)nd + n;
    uint8_t *b = malloc(len);
    b[0] = b[1] = 0, b[2] = 8, b[3] = (uint8_t)nd;
    for (int k = 0; k < nd; k++)
        for (int j = 0; j < 4; j++)
            b[4 + 4 * k + j] = (uint8_t)(dims[k] >> (24 - 8 * j));
    memcpy(b + 4 + 4 * nd, p, n);
    write_file_(path, b, len);
    free(b);
}

/* Payload of an IDX file (raw or gzip) after its header. */
static uint8_t *idx_payload_(const char *path, int nd, size_t *n)
{
    uint8_t *raw;
    size_t len;
    TU_OK(glf_read_decompressed(path, path, NULL, 0, &raw, &len));
    size_t h = 4 + 4 * (size_t)nd;
    *n = len - h;
    memmove(raw, raw + h, *n);
    return raw;
}

static void test_roundtrip(void **state)
{
    (void)state;
    /* The sample's images as original IDX files (train raw, test gzip). */
    char *dir = tu_tmpdir("rt");
    glf_data_source src = {.archive = sample_()};
    const char *split[2] = {"train", "t10k"};
    for (int k = 0; k < 2; k++) {
        glf_dataset d;
        TU_OK(glf_dataset_load(&src, k ? "test" : "train", &d));
        char p[4096];
        uint32_t di[3] = {(uint32_t)d.n, 28, 28}, dl[1] = {(uint32_t)d.n};
        snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, split[k]);
        write_idx_(p, 3, di, d.images, d.n * 784);
        snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, split[k]);
        write_idx_(p, 1, dl, d.labels, d.n);
        glf_dataset_free(&d);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -n '%s/t10k-images-idx3-ubyte' '%s/t10k-labels-idx1-ubyte'",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    /* Pack with an odd chunk size (a short last chunk in both splits). */
    char *out = join_(dir, "fm.tar.zst"), *out2 = join_(dir, "fm2.tar.zst");
    glf_data_source fm = {.name = "fashion-mnist", .dir = dir};
    glf_pack_opts o = {.level = 3, .chunk = 333};
    TU_OK(glf_pack(&fm, out, &o));
    TU_OK(glf_pack(&fm, out2, &o));
    for (int k = 0; k < 2; k++) {
        glf_data_source a = {.archive = out};
        glf_dataset d;
        TU_OK(glf_dataset_load(&a, k ? "test" : "train", &d));
        char p[4096];
        size_t ni, nl;
        snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, split[k], k ? ".gz" : "");
        uint8_t *img = idx_payload_(p, 3, &ni);
        snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, split[k], k ? ".gz" : "");
        uint8_t *lab = idx_payload_(p, 1, &nl);
        assert_int_equal(d.n * 784, ni);
        assert_int_equal(d.n, nl);
        assert_memory_equal(d.images, img, ni); /* bit-exact */
        assert_memory_equal(d.labels, lab, nl);
        /* The IDX set's own source hash matches the manifest's record of it. */
        glf_dataset orig;
        TU_OK(glf_dataset_load(&fm, k ? "test" : "train", &orig));
        glf_archive_info info;
        TU_OK(glf_archive_info_read(out, 1, &info));
        assert_non_null(strstr(info.manifest, orig.manifest_sha256));
        assert_int_equal(info.chunk, 333);
        glf_archive_info_free(&info);
        glf_dataset_free(&orig);
        free(img), free(lab);
        glf_dataset_free(&d);
    }
    /* Packing is reproducible: the same input gives the same bytes. */
    size_t n1, n2;
    uint8_t *b1 = read_file_(out, &n1), *b2 = read_file_(out2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1), free(b2), free(out), free(out2), free(dir);
}

/* The members of an archive, re-read through the public stream API. */
typedef struct members_ {
    const char *split;
    size_t ib, chunk, n;
    char names[64][48];
    uint8_t *data[64];
    size_t sizes[64];
} members_;

static int collect_(void *u, const uint8_t *img, const uint8_t *lab, size_t cnt)
{
    members_ *m = u;
    const uint8_t *src[2] = {lab, img};
    for (int k = 0; k < 2; k++) {
        size_t sz = k ? cnt * m->ib : cnt;
        snprintf(m->names[m->n], 48, "%s/%s-%06zu.u8", m->split, k ? "images" : "labels",
                 m->chunk);
        m->data[m->n] = malloc(sz);
        memcpy(m->data[m->n], src[k], sz);
        m->sizes[m->n++] = sz;
    }
    m->chunk++;
    return 0;
}

/* A tiny labelled archive (train 5, test 1, chunk 2) and its members, with
 * the manifest text as member 0. */
static char *tiny_(const char *dir, members_ *m)
{
    char p[4096];
    uint8_t img[5 * 6], lab[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 30; i++)
        img[i] = (uint8_t)(i * 9);
    uint32_t di[3] = {5, 2, 3}, dl[1] = {5}, ti[3] = {1, 2, 3}, tl[1] = {1};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    write_idx_(p, 3, di, img, 30);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    write_idx_(p, 1, dl, lab, 5);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    write_idx_(p, 3, ti, img, 6);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    write_idx_(p, 1, tl, lab, 1);
    char *out = join_(dir, "tiny.tar.zst");
    glf_data_source src = {.name = "mnist", .dir = dir};
    glf_pack_opts o = {.level = 1, .chunk = 2};
    TU_OK(glf_pack(&src, out, &o));
    memset(m, 0, sizeof *m);
    glf_archive_info info;
    TU_OK(glf_archive_info_read(out, 1, &info));
    snprintf(m->names[0], 48, "manifest.json");
    m->data[0] = (uint8_t *)strdup(info.manifest);
    m->sizes[0] = strlen(info.manifest);
    m->n = 1;
    glf_archive_info_free(&info);
    m->ib = 6;
    m->split = "train";
    TU_OK(glf_archive_stream(out, "train", collect_, m));
    m->split = "test";
    m->chunk = 0;
    TU_OK(glf_archive_stream(out, "test", collect_, m));
    assert_int_equal(m->n, 1 + 2 * 3 + 2);
    return out;
}

static void members_free_(members_ *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->data[i]);
}

/* Write members[from..to) (with member 0 replaced by manifest when given). */
static void craft_(const char *path, members_ *m, size_t from, size_t to, const char *manifest)
{
    const char *names[64];
    const void *data[64];
    size_t sizes[64], n = 0;
    for (size_t i = from; i < to; i++, n++) {
        names[n] = m->names[i];
        data[n] = (i == 0 && manifest) ? (const void *)manifest : m->data[i];
        sizes[n] = (i == 0 && manifest) ? strlen(manifest) : m->sizes[i];
    }
    TU_OK(glf_archive_write_members(path, 1, n, names, data, sizes));
}

static char *replace_(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    char *r = malloc(strlen(s) + strlen(to) + 1);
    size_t pre = (size_t)(at - s);
    memcpy(r, s, pre);
    strcpy(r + pre, to);
    strcat(r, at + strlen(from));
    return r;
}

static glf_status load_(const char *path, const char *split)
{
    glf_data_source src = {.archive = path};
    glf_dataset d;
    glf_status s = glf_dataset_load(&src, split, &d);
    if (s == GLF_OK)
        glf_dataset_free(&d);
    else
        assert_null(d.images); /* nothing half-loaded is handed out */
    return s;
}

static void test_bad_archives(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("badarch");
    members_ m;
    char *good = tiny_(dir, &m);
    char *bad = join_(dir, "bad.tar.zst");
    size_t n;
    uint8_t *bytes = read_file_(good, &n);
    const char *man = (const char *)m.data[0];

    /* Truncated archive. */
    write_file_(bad, bytes, n / 2);
    tu_expect_status(load_(bad, "test"), GLF_ERR_FORMAT, bad, "truncated");
    /* Corrupt zstd frame: magic, then bytes inside the compressed data. */
    uint8_t *c = malloc(n);
    memcpy(c, bytes, n);
    c[0] ^= 0xFF;
    write_file_(bad, c, n);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, NULL);
    memcpy(c, bytes, n);
    for (size_t i = n / 3; i < n / 3 + 16; i++)
        c[i] ^= 0x5A;
    write_file_(bad, c, n);
    glf_status s = load_(bad, "test");
    if (s != GLF_ERR_FORMAT && s != GLF_ERR_MISMATCH)
        fail_msg("corrupt frame: %s (%s)", glf_status_str(s), glf_last_error());
    assert_non_null(strstr(glf_last_error(), bad));
    free(c);
    /* Missing manifest; invalid manifest; unknown format version. */
    craft_(bad, &m, 1, m.n, NULL);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "missing manifest");
    craft_(bad, &m, 0, m.n, "{\"format\": \"glf-data\", \"version\": ");
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "invalid manifest.json");
    craft_(bad, &m, 0, m.n, "[1, 2, 3]");
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "invalid manifest.json");
    char *v99 = replace_(man, "\"version\": 1,", "\"version\": 99,");
    craft_(bad, &m, 0, m.n, v99);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "unknown archive format version 99");
    /* Member hash mismatch: a changed byte in the last test member. */
    m.data[m.n - 1][0] ^= 1;
    craft_(bad, &m, 0, m.n, NULL);
    tu_expect_status(load_(bad, "train"), GLF_ERR_MISMATCH, bad, "test/images-000000.u8 hash mismatch");
    m.data[m.n - 1][0] ^= 1;
    /* Manifest fields inconsistent with the members. */
    char *cnt = replace_(man, "\"count\": 5", "\"count\": 7");
    craft_(bad, &m, 0, m.n, cnt);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "members");
    /* A member missing (archive ends early), and an extra one. */
    craft_(bad, &m, 0, m.n - 2, NULL);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "archive ends before member");
    craft_(bad, &m, 0, m.n, NULL);
    {
        const char *names[] = {"manifest.json", m.names[1], m.names[2], m.names[3], m.names[4],
                               m.names[5], m.names[6], m.names[7], m.names[8], "extra.bin"};
        const void *data[10];
        size_t sizes[10];
        for (int i = 0; i < 9; i++)
            data[i] = m.data[i], sizes[i] = m.sizes[i];
        data[9] = "x", sizes[9] = 1;
        TU_OK(glf_archive_write_members(bad, 1, 10, names, data, sizes));
        tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, "unexpected extra member");
    }
    /* Empty data set: a split of 0 images. */
    /* (A flat PNG folder packs with 0 test images.) */
    char *pngdir = tu_tmpdir("badarch-png");
    uint8_t px[3 * 4 * 5];
    for (int i = 0; i < 60; i++)
        px[i] = (uint8_t)(i * 4);
    char *png = join_(pngdir, "a.png");
    TU_OK(glf_png_write_u8(png, 3, 4, 5, px));
    glf_data_source pngs = {.name = "images", .dir = pngdir};
    TU_OK(glf_pack(&pngs, bad, NULL));
    TU_OK(load_(bad, "train"));
    tu_expect_status(load_(bad, "test"), GLF_ERR_FORMAT, bad, "empty data set");
    free(png), free(pngdir);
    /* Not an archive at all, an empty file, a missing path, a folder. */
    write_file_(bad, "plain text, not a tar", 21);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, NULL);
    write_file_(bad, "", 0);
    tu_expect_status(load_(bad, "train"), GLF_ERR_FORMAT, bad, NULL);
    char *missing = join_(dir, "missing.tar.zst");
    tu_expect_status(load_(missing, "train"), GLF_ERR_IO, missing, "cannot open");
    tu_expect_status(load_(dir, "train"), GLF_ERR_IO, dir, "not a regular file");
    /* The same checks hold for archives in memory (what the fuzzer drives). */
    glf_dataset d;
    tu_expect_status(glf_archive_load_memory("mem", bytes, n / 2, "train", &d), GLF_ERR_FORMAT, "mem",
            NULL);
    TU_OK(glf_archive_load_memory("mem", bytes, n, "train", &d));
    assert_int_equal(d.n, 5);
    glf_dataset_free(&d);
    free(v99), free(cnt), free(missing), free(bytes);
    members_free_(&m);
    free(good), free(bad), free(dir);
}

static int abort_at_2_(void *user, const char *member, size_t done, size_t total)
{
    (void)member, (void)total;
    *(int *)user += 1;
    return done >= 2;
}

static size_t count_files_(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_pack_interrupted(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("packint");
    char *out = join_(dir, "out.tar.zst");
    glf_data_source src = {.archive = sample_()};
    int calls = 0;
    glf_pack_opts o = {.level = 1, .chunk = 100, .progress = abort_at_2_, .user = &calls};
    tu_expect_status(glf_pack(&src, out, &o), GLF_ERR_INTERRUPTED, out, "interrupted");
    assert_int_equal(calls, 2);
    assert_int_equal(count_files_(dir), 0); /* neither OUT nor its temporary */
    /* A pack that fails on its input writes nothing either. */
    glf_data_source none = {.archive = out};
    tu_expect_status(glf_pack(&none, out, NULL), GLF_ERR_IO, out, NULL);
    assert_int_equal(count_files_(dir), 0);
    char *nodir = join_(dir, "no/such/dir/out.tar.zst");
    tu_expect_status(glf_pack(&src, nodir, NULL), GLF_ERR_IO, "no/such/dir", NULL);
    assert_int_equal(count_files_(dir), 0);

    /* The command: SIGINT while it packs leaves no OUT (and no temporary). */
    const char *cli = getenv("GLF_CLI");
    assert_non_null(cli);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execl(cli, cli, "pack", "--data", sample_(), "--level", "19", "--chunk", "50", "-o", out,
              (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGINT);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(!WIFEXITED(st) || WEXITSTATUS(st) != 0);
    assert_int_equal(count_files_(dir), 0);
    free(nodir), free(out), free(dir);
}

/* Run the CLI; return its exit status and what it printed (stdout+stderr). */
static int run_cli_(const char *args, char *buf, size_t n)
{
    const char *cli = getenv("GLF_CLI");
    assert_non_null(cli);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", cli, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(buf, 1, n - 1, p);
    buf[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static void test_cli(void **state)
{
    (void)state;
    static char out[1 << 16];
    char args[8192];
    snprintf(args, sizeof args, "data info '%s'", sample_());
    assert_int_equal(run_cli_(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "train       2000 images"));
    assert_non_null(strstr(out, "test        500 images"));
    assert_non_null(strstr(out, "1x28x28"));
    assert_non_null(strstr(out, "classes     10"));
    assert_non_null(strstr(out, "verified"));
    snprintf(args, sizeof args, "data info --json '%s'", sample_());
    assert_int_equal(run_cli_(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"version\": 1"));
    assert_non_null(strstr(out, "\"sha256\""));
    /* Pack through the command, then a bad archive through info. */
    char *dir = tu_tmpdir("cli");
    char *p = join_(dir, "re.tar.zst");
    snprintf(args, sizeof args, "pack --data '%s' --limit-train 10 --limit-test 3 -o '%s'",
             sample_(), p);
    assert_int_equal(run_cli_(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "data info '%s'", p);
    assert_int_equal(run_cli_(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "train       10 images"));
    size_t n;
    uint8_t *b = read_file_(p, &n);
    write_file_(p, b, n - 40);
    free(b);
    snprintf(args, sizeof args, "data info '%s'", p);
    assert_int_not_equal(run_cli_(args, out, sizeof out), 0);
    assert_non_null(strstr(out, p));
    assert_non_null(strstr(out, "glf data info: error"));
    snprintf(args, sizeof args, "pack --dataset mnist '%s/nothing' -o '%s/x.tar.zst'", dir, dir);
    assert_int_not_equal(run_cli_(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "missing"));
    assert_int_equal(run_cli_("pack --bogus", out, sizeof out), 2);
    free(p), free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bad_archives),
        cmocka_unit_test(test_pack_interrupted),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
