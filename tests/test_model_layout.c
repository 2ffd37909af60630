/* Model config and layout: names, shapes, offsets and groups of the 28x28
 * preset checked against counts worked out by hand from the architecture,
 * init statistics, permutation validity, and the config JSON round trip. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/model.h"

static glf_config preset28_(void)
{
    glf_config c;
    TU_OK(glf_config_preset(&c, 1, 28, 28));
    return c;
}

static void test_presets(void **state)
{
    (void)state;
    glf_config c;
    TU_OK(glf_config_preset(&c, 1, 28, 28));
    assert_int_equal(c.latent, 20);
    assert_int_equal(c.flow_width, 64);
    assert_int_equal(c.flow_blocks, 4);
    assert_int_equal(c.batch, 256);
    assert_true(c.seed == 123);
    assert_true(c.adam_flow.beta1 == 0.8f && c.adam_flow.beta2 == 0.9f);
    assert_true(c.adam_flow.eps == 1e-6f && c.adam_flow.weight_decay == 2e-5f);
    assert_true(c.adam_ae.beta2 == 0.999f && c.adam_ae.eps == 1e-8f);
    TU_OK(glf_config_preset(&c, 3, 32, 32));
    assert_int_equal(c.latent, 64);
    assert_int_equal(c.flow_width, 256);
    TU_OK(glf_config_preset(&c, 3, 64, 64));
    assert_int_equal(c.latent, 64);
    assert_int_equal(c.epochs, 40);
    assert_int_equal(glf_config_preset(&c, 1, 30, 30), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "1x30x30"));
    assert_int_equal(glf_config_preset(&c, 1, 28, 32), GLF_ERR_INVALID_ARG);
}

static void test_validate(void **state)
{
    (void)state;
    glf_config c = preset28_();
    TU_OK(glf_config_validate(&c));
    c.latent = 1;
    assert_int_equal(glf_config_validate(&c), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "latent = 1"));
    c = preset28_();
    c.adam_flow.beta2 = 1.0f;
    assert_int_equal(glf_config_validate(&c), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "adam_flow_beta2"));
    c = preset28_();
    c.batch = 1;
    assert_int_equal(glf_config_validate(&c), GLF_ERR_INVALID_ARG);
    c = preset28_();
    c.beta = NAN;
    assert_int_equal(glf_config_validate(&c), GLF_ERR_INVALID_ARG);
}

/* The 28x28 model's counts written out by hand (S/4 = 7, q = 49). */
static void test_layout_28(void **state)
{
    (void)state;
    glf_config c = preset28_();
    glf_layout l;
    TU_OK(glf_layout_params(&c, &l));
    const long ae = (64 * 1 * 16 + 64)            /* enc.conv1 */
                    + (128 * 64 * 16 + 128)       /* enc.conv2 */
                    + 2 * 128                     /* enc.bn2 */
                    + (6272L * 1024 + 1024)       /* enc.fc1: 128*49 -> 1024 */
                    + 2 * 1024                    /* enc.bn3 */
                    + (1024 * 20 + 20)            /* enc.fc2 */
                    + (20 * 1024 + 1024)          /* dec.fc1 */
                    + 2 * 1024                    /* dec.bn1 */
                    + (1024L * 6272 + 6272)       /* dec.fc2 */
                    + 2 * 6272                    /* dec.bn2 */
                    + (128 * 64 * 16 + 64)        /* dec.deconv1 */
                    + 2 * 64                      /* dec.bn3 */
                    + (64 * 1 * 16 + 1);          /* dec.deconv2 */
    /* One MLP 10 -> 64 -> 64 -> 10 with two BN: 704 + 128 + 4160 + 128 + 650. */
    const long mlp = 5770, flow = 4L * 4 * mlp;
    assert_int_equal(ae, 13175829);
    assert_int_equal((long)l.group_n[0], ae);
    assert_int_equal((long)l.group_off[1], ae);
    assert_int_equal((long)l.group_n[1], flow);
    assert_int_equal((long)l.total, ae + flow);
    /* 13 AE modules: 13 weight/bias pairs = 26; 16 MLPs of 3 linear + 2 BN = 160. */
    assert_int_equal(l.n, 26 + 160);
    assert_string_equal(l.t[0].name, "enc.conv1.weight");
    assert_string_equal(l.t[25].name, "dec.deconv2.bias");
    assert_string_equal(l.t[26].name, "flow.blocks.0.s1.fc1.weight");
    assert_string_equal(l.t[l.n - 1].name, "flow.blocks.3.t2.fc3.bias");

    /* Offsets are contiguous, groups ordered, names unique. */
    size_t at = 0;
    for (int i = 0; i < l.n; i++) {
        const glf_tensor_desc *t = &l.t[i];
        assert_int_equal(t->off, at);
        size_t n = 1;
        for (int k = 0; k < t->ndim; k++)
            n *= (size_t)t->shape[k];
        assert_int_equal(t->n, n);
        at += n;
        assert_int_equal(t->group, t->off >= l.group_off[1] ? 1 : 0);
        assert_int_equal(t->group, strncmp(t->name, "flow.", 5) == 0);
        assert_ptr_equal(glf_layout_find(&l, t->name), t);
    }
    const glf_tensor_desc *t = glf_layout_find(&l, "enc.fc1.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 1024);
    assert_int_equal(t->shape[1], 6272);
    assert_int_equal(t->init, GLF_INIT_NORMAL002);
    t = glf_layout_find(&l, "dec.deconv1.weight"); /* ConvTranspose2d: (Cin, Cout, K, K) */
    assert_int_equal(t->shape[0], 128);
    assert_int_equal(t->shape[1], 64);
    assert_int_equal(glf_layout_find(&l, "dec.deconv1.bias")->shape[0], 64);
    assert_int_equal(glf_layout_find(&l, "enc.bn2.weight")->init, GLF_INIT_ONE);
    assert_int_equal(glf_layout_find(&l, "enc.bn2.bias")->init, GLF_INIT_ZERO);
    t = glf_layout_find(&l, "flow.blocks.2.s2.fc1.weight"); /* d2 -> h */
    assert_int_equal(t->shape[0], 64);
    assert_int_equal(t->shape[1], 10);
    assert_int_equal(t->init, GLF_INIT_FLOW005);
    assert_int_equal(glf_layout_find(&l, "flow.blocks.1.t1.bn2.bias")->init, GLF_INIT_FLOW005);
    assert_null(glf_layout_find(&l, "flow.blocks.4.s1.fc1.weight"));
    glf_layout_free(&l);

    /* State: 5 AE BatchNorms + 32 flow BatchNorms, mean then var. */
    TU_OK(glf_layout_state(&c, &l));
    assert_int_equal(l.n, 2 * (5 + 32));
    assert_int_equal((long)l.group_n[0], 2L * (128 + 1024 + 1024 + 6272 + 64));
    assert_int_equal((long)l.group_n[1], 2L * 32 * 64);
    assert_string_equal(l.t[0].name, "enc.bn2.running_mean");
    assert_string_equal(l.t[1].name, "enc.bn2.running_var");
    float *s = malloc(l.total * sizeof *s);
    TU_OK(glf_init_state(&l, s));
    for (int i = 0; i < l.n; i++)
        for (size_t j = 0; j < l.t[i].n; j++)
            assert_true(s[l.t[i].off + j] == (strstr(l.t[i].name, "running_var") ? 1.0f : 0.0f));
    free(s);
    glf_layout_free(&l);
}

static void test_layout_modes(void **state)
{
    (void)state;
    glf_config c = preset28_();
    glf_layout l;
    c.mode = GLF_MODE_VAE_FLOW;
    TU_OK(glf_layout_params(&c, &l));
    assert_int_equal(glf_layout_find(&l, "enc.fc2.weight")->shape[0], 40);
    glf_layout_free(&l);
    c.mode = GLF_MODE_AE_GAUSS;
    TU_OK(glf_layout_params(&c, &l));
    assert_int_equal(l.group_n[1], 0);
    assert_int_equal(l.n, 26);
    glf_layout_free(&l);
    /* Odd latent: d1 = 3, d2 = 4. */
    c = preset28_();
    c.latent = 7;
    TU_OK(glf_layout_params(&c, &l));
    assert_int_equal(glf_layout_find(&l, "flow.blocks.0.s1.fc1.weight")->shape[1], 3);
    assert_int_equal(glf_layout_find(&l, "flow.blocks.0.s1.fc3.weight")->shape[0], 4);
    assert_int_equal(glf_layout_find(&l, "flow.blocks.0.t2.fc1.weight")->shape[1], 4);
    assert_int_equal(glf_layout_find(&l, "flow.blocks.0.t2.fc3.bias")->shape[0], 3);
    glf_layout_free(&l);
    c.latent = 0;
    assert_int_equal(glf_layout_params(&c, &l), GLF_ERR_INVALID_ARG);
    assert_null(l.t);
}

/* Statistics on the full 28x28 model (one init: 13M normals); repeatability
 * and independence from other tensors on a small model (fast). */
static void test_init(void **state)
{
    (void)state;
    glf_config c = preset28_();
    glf_layout l;
    TU_OK(glf_layout_params(&c, &l));
    float *p = malloc(l.total * sizeof *p);
    TU_OK(glf_init_params(&l, 123, p));
    for (int i = 0; i < l.n; i++) {
        const glf_tensor_desc *t = &l.t[i];
        double s = 0, s2 = 0;
        for (size_t j = 0; j < t->n; j++) {
            double v = p[t->off + j];
            s += v, s2 += v * v;
        }
        double mean = s / (double)t->n, sd = sqrt(s2 / (double)t->n - mean * mean);
        if (t->init == GLF_INIT_ZERO || t->init == GLF_INIT_ONE) {
            double want = t->init == GLF_INIT_ONE;
            assert_true(mean == want && sd == 0.0);
        } else if (t->n >= 4096) { /* enough samples for a 10% sd check */
            double want = t->init == GLF_INIT_NORMAL002 ? 0.02 : 0.05;
            if (fabs(sd - want) > 0.1 * want || fabs(mean) > 0.1 * want)
                fail_msg("%s: mean %g sd %g, expected 0 and %g", t->name, mean, sd, want);
        }
    }
    free(p);
    glf_layout_free(&l);

    c.conv1 = 8, c.conv2 = 8, c.fc = 16;
    TU_OK(glf_layout_params(&c, &l));
    p = malloc(l.total * sizeof *p);
    float *p2 = malloc(l.total * sizeof *p2);
    TU_OK(glf_init_params(&l, 123, p));
    TU_OK(glf_init_params(&l, 123, p2));
    assert_memory_equal(p, p2, l.total * sizeof *p);
    TU_OK(glf_init_params(&l, 124, p2));
    assert_memory_not_equal(p, p2, 64 * sizeof *p);
    /* A tensor's init does not depend on the other tensors: the AE of an
     * ae-gauss model (no flow) starts exactly like the glf model's AE. */
    glf_layout l2;
    c.mode = GLF_MODE_AE_GAUSS;
    TU_OK(glf_layout_params(&c, &l2));
    TU_OK(glf_init_params(&l2, 123, p2));
    assert_memory_equal(p, p2, l2.total * sizeof *p);
    free(p), free(p2);
    glf_layout_free(&l), glf_layout_free(&l2);
}

static void test_permutations(void **state)
{
    (void)state;
    glf_config c = preset28_();
    c.latent = 13;
    c.flow_blocks = 6;
    int perm[6 * 13], again[6 * 13];
    glf_flow_permutations(&c, perm);
    glf_flow_permutations(&c, again);
    assert_memory_equal(perm, again, sizeof perm);
    int identity_rows = 0;
    for (int k = 0; k < 6; k++) {
        int seen[13] = {0}, ident = 1;
        for (int j = 0; j < 13; j++) {
            int v = perm[k * 13 + j];
            assert_true(v >= 0 && v < 13);
            assert_int_equal(seen[v], 0);
            seen[v] = 1;
            ident &= v == j;
        }
        identity_rows += ident;
        if (k > 0)
            assert_memory_not_equal(perm + k * 13, perm, 13 * sizeof(int));
    }
    assert_int_equal(identity_rows, 0);
    /* Block k's permutation depends on k only, not on how many blocks exist. */
    c.flow_blocks = 2;
    glf_flow_permutations(&c, again);
    assert_memory_equal(perm, again, 2 * 13 * sizeof(int));
}

static void test_json(void **state)
{
    (void)state;
    glf_config c = preset28_(), d;
    c.mode = GLF_MODE_VAE_FLOW;
    c.recon = GLF_RECON_BCE;
    c.beta = 400.0f;
    c.seed = 18446744073709551615ull;
    c.lr_ae = 3.3333e-4f;
    c.adam_flow.weight_decay = 1.2345678e-7f;
    char buf[4096];
    int n = glf_config_to_json(&c, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    assert_int_equal((size_t)n, strlen(buf));
    assert_non_null(strstr(buf, "\"mode\": \"vae-flow\""));
    memset(&d, 0xff, sizeof d);
    TU_OK(glf_config_preset(&d, 3, 32, 32));
    TU_OK(glf_config_from_json(&d, buf));
    assert_memory_equal(&c, &d, sizeof c);
    TU_OK(glf_config_same_arch(&c, &d, "x"));
    /* Too small a buffer: the needed length comes back and the text is cut. */
    char small[16];
    assert_int_equal(glf_config_to_json(&c, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    /* Partial JSON overrides; bad JSON is rejected and leaves *c alone. */
    TU_OK(glf_config_from_json(&d, " { \"latent\" : 8 , \"recon\":\"mse\" } "));
    assert_int_equal(d.latent, 8);
    assert_int_equal(d.recon, GLF_RECON_MSE);
    glf_config before = d;
    assert_int_equal(glf_config_from_json(&d, "{\"latent\": 9, \"bogus\": 1}"), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "bogus"));
    assert_memory_equal(&before, &d, sizeof d);
    assert_int_equal(glf_config_from_json(&d, "{\"latent\": \"9\"}"), GLF_ERR_FORMAT);
    assert_int_equal(glf_config_from_json(&d, "{\"latent\": 9.5}"), GLF_ERR_FORMAT);
    assert_int_equal(glf_config_from_json(&d, "{\"mode\": \"flowy\"}"), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_config_from_json(&d, "{\"latent\": 9"), GLF_ERR_FORMAT);
    assert_int_equal(glf_config_from_json(&d, "{\"latent\": 9} x"), GLF_ERR_FORMAT);
    assert_int_equal(glf_config_from_json(&d, "[1]"), GLF_ERR_FORMAT);
    assert_int_equal(glf_config_from_json(&d, "{\"seed\": -1}"), GLF_ERR_FORMAT);
    /* Architecture comparison names the field. */
    assert_int_equal(glf_config_same_arch(&c, &d, "ckpt.bin"), GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "ckpt.bin"));
    assert_non_null(strstr(glf_last_error(), "latent = 8, expected 20"));
    d = c;
    d.mode = GLF_MODE_GLF;
    assert_int_equal(glf_config_same_arch(&c, &d, "ckpt.bin"), GLF_ERR_MISMATCH);
    d = c, c.mode = GLF_MODE_GLF, d.mode = GLF_MODE_REGULARIZED, d.epochs = 3;
    TU_OK(glf_config_same_arch(&c, &d, "ckpt.bin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),     cmocka_unit_test(test_validate),
        cmocka_unit_test(test_layout_28),   cmocka_unit_test(test_layout_modes),
        cmocka_unit_test(test_init),        cmocka_unit_test(test_permutations),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
