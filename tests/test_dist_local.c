/* The data-parallel pieces that need no MPI: the communicator as built
 * without MPI (one process works as before; a launch as several ranks is
 * refused, saying why), and which device each node-local rank drives. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "glf/dist.h"

static void test_without_mpi(void **state)
{
    (void)state;
    assert_int_equal(glf_dist_has_mpi(), 0);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    assert_int_equal(glf_dist_env_size(), 0);
    glf_dist *d;
    TU_OK(glf_dist_init(NULL, NULL, 0, &d));
    assert_int_equal(glf_dist_rank(d), 0);
    assert_int_equal(glf_dist_size(d), 1);
    assert_int_equal(glf_dist_local_size(d), 1);
    float x[3] = {1.5f, -2.0f, 3.25f}, y[3] = {1.5f, -2.0f, 3.25f};
    TU_OK(glf_dist_sum(d, x, 3)); /* one rank: the sum is the data */
    assert_memory_equal(x, y, sizeof x);
    glf_comm c = glf_dist_comm(d, 1);
    assert_int_equal(c.size, 1);
    assert_int_equal(c.bn_local, 1);
    TU_OK(c.sum(c.user, x, 3));
    assert_memory_equal(x, y, sizeof x);
    glf_dist_abort(d, 1); /* one process: returns, the caller exits */
    glf_dist_finalize(d);

    /* Launched as 3 ranks (or 1) by a launcher this build cannot join. */
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    assert_int_equal(glf_dist_env_size(), 3);
    tu_expect_status(glf_dist_init(NULL, NULL, 0, &d), GLF_ERR_INVALID_ARG,
                     "built without MPI", "one of 3 ranks");
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    TU_OK(glf_dist_init(NULL, NULL, 0, &d));
    assert_int_equal(glf_dist_size(d), 1);
    glf_dist_finalize(d);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("PMI_SIZE", "2", 1);
    tu_expect_status(glf_dist_init(NULL, NULL, 0, &d), GLF_ERR_INVALID_ARG, "one of 2 ranks",
                     "-DGLF_MPI=ON");
    unsetenv("PMI_SIZE");
}

static void expect_spec_(const char *spec, int local, const char *want)
{
    char out[256];
    TU_OK(glf_dist_device_spec(spec, local, out, sizeof out));
    if (strcmp(out, want))
        fail_msg("device spec '%s' for local rank %d: got '%s', expected '%s'",
                 spec ? spec : "(none)", local, out, want);
}

static void test_device_per_rank(void **state)
{
    (void)state;
    glf_device_info *l;
    int n;
    TU_OK(glf_devices_list(&l, &n));
    /* The devices of the default kind (GPUs, else CPUs), in list order. */
    int kind[64], nk = 0;
    cl_device_type t = CL_DEVICE_TYPE_CPU;
    for (int i = 0; i < n; i++)
        if (l[i].type & CL_DEVICE_TYPE_GPU)
            t = CL_DEVICE_TYPE_GPU;
    for (int i = 0; i < n && nk < 64; i++)
        if (l[i].type & t)
            kind[nk++] = i;
    assert_true(nk > 0);
    unsetenv("GLF_DEVICE");
    for (int local = 0; local < 5; local++) {
        char want[32];
        const glf_device_info *d = &l[kind[local % nk]];
        snprintf(want, sizeof want, "%d:%d", d->platform_index, d->device_index);
        expect_spec_(NULL, local, want); /* with one device every rank shares it */
        expect_spec_("", local, want);
        expect_spec_(t == CL_DEVICE_TYPE_GPU ? "gpu" : "cpu", local, want);
    }
    /* A list maps local rank r to element r mod its length. */
    expect_spec_("0,1", 0, "0");
    expect_spec_("0,1", 1, "1");
    expect_spec_("0,1", 2, "0");
    expect_spec_("gpu,1:0,cpu", 2, "cpu");
    /* Anything else: the same device for every rank (glf_ctx_create judges it). */
    expect_spec_("0", 3, "0");
    expect_spec_("Xeon", 1, "Xeon");
    setenv("GLF_DEVICE", "2,3", 1);
    expect_spec_(NULL, 1, "3");
    unsetenv("GLF_DEVICE");
    char out[64];
    tu_expect_status(glf_dist_device_spec("0,,1", 1, out, sizeof out), GLF_ERR_INVALID_ARG,
                     "element 1 of the list is empty", "--device '0,,1'");
    tu_expect_status(glf_dist_device_spec(NULL, -1, out, sizeof out), GLF_ERR_INVALID_ARG,
                     "local rank -1", NULL);
    if (!(t & CL_DEVICE_TYPE_GPU))
        tu_expect_status(glf_dist_device_spec("gpu", 0, out, sizeof out), GLF_ERR_NO_DEVICE,
                         "--device 'gpu' matches no OpenCL device of that type", NULL);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_mpi),
        cmocka_unit_test(test_device_per_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
