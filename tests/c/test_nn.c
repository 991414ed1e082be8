/* test_nn.c - MLP forward, softmax cross-entropy, gradients (against central
 * finite differences of a double-precision reference written here), eval. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "io/safetensors.h"

/* Reference forward in double: loss (mean xent) of the MLP with parameters
 * given as double arrays P[p] (same layout as net->param[p]). */
static double ref_loss(const llfc_net *net, double **P, const float *x, const int32_t *y, int n, double *logits_out,
                       int *nerr)
{
    int L = net->nfeat, act = llfc_act_from_name(llfc_net_act(net));
    double loss = 0;
    int errs = 0;
    for (int r = 0; r < n; r++) {
        double a[64], z[64];
        int in = (int)net->widths[0];
        for (int i = 0; i < in; i++) a[i] = x[r * in + i];
        for (int l = 0; l < L; l++) {
            int o = (int)net->widths[l + 1], i0 = (int)net->widths[l];
            for (int j = 0; j < o; j++) {
                double s = P[2 * l + 1][j];
                for (int i = 0; i < i0; i++) s += P[2 * l][j * i0 + i] * a[i];
                z[j] = s;
            }
            for (int j = 0; j < o; j++) {
                if (l == L - 1) a[j] = z[j];
                else if (act == LLFC_ACT_RELU) a[j] = z[j] > 0 ? z[j] : 0;
                else if (act == LLFC_ACT_TANH) a[j] = tanh(z[j]);
                else a[j] = z[j];
            }
        }
        int k = (int)net->widths[L];
        double m = a[0];
        int am = 0;
        for (int j = 1; j < k; j++) if (a[j] > m) { m = a[j]; am = j; }
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(a[j] - m);
        loss += m + log(s) - a[y[r]];
        errs += am != y[r];
        if (logits_out) for (int j = 0; j < k; j++) logits_out[r * k + j] = a[j];
    }
    if (nerr) *nerr = errs;
    return loss / n;
}

static void test_gradcheck(int act, const char *actname)
{
    int64_t widths[] = {5, 7, 6, 3};
    llfc_net *net = llfc_mlp_new(4, widths, act, LLFC_INIT_TORCH, 11);
    CHECK(net != NULL, "%s: mlp_new", actname);
    if (!net) return;
    enum { N = 6 };
    float x[N * 5];
    int32_t y[N];
    llfc_rng rng;
    llfc_rng_seed(&rng, 5);
    for (int i = 0; i < N * 5; i++) x[i] = (float)llfc_rng_normal(&rng);
    for (int i = 0; i < N; i++) y[i] = (int32_t)llfc_rng_below(&rng, 3);
    /* make the logits layer larger so the loss is not flat */
    float *grad[8];
    double *P[8];
    for (int p = 0; p < net->nparams; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        float *w = llfc_tensor_data(net->param[p]);
        for (int64_t i = 0; i < m; i++) w[i] *= 2.0f;
        size_t mz = m > 0 ? (size_t)m : 1;
        grad[p] = calloc(mz, sizeof(float));
        P[p] = calloc(mz, sizeof(double));
        for (int64_t i = 0; i < m; i++) P[p][i] = w[i];
    }
    double loss = 0;
    int64_t nerr = 0;
    CHECK(llfc_net_loss_grad(net, x, y, N, grad, &loss, &nerr) == 0, "%s: loss_grad runs", actname);
    int rerr;
    double rl = ref_loss(net, P, x, y, N, NULL, &rerr);
    CHECK_NEAR(loss, rl, 1e-5, "%s: loss matches the double reference (%g)", actname, rl);
    CHECK(nerr == rerr, "%s: error count matches the reference (%lld vs %d)", actname, (long long)nerr, rerr);
    double maxdiff = 0, maxg = 0;
    for (int p = 0; p < net->nparams; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        for (int64_t i = 0; i < m; i++) {
            double h = 1e-6, w0 = P[p][i];
            P[p][i] = w0 + h;
            double lp = ref_loss(net, P, x, y, N, NULL, NULL);
            P[p][i] = w0 - h;
            double lm = ref_loss(net, P, x, y, N, NULL, NULL);
            P[p][i] = w0;
            double fd = (lp - lm) / (2 * h);
            double d = fabs(fd - grad[p][i]);
            if (d > maxdiff) maxdiff = d;
            if (fabs(fd) > maxg) maxg = fabs(fd);
        }
    }
    CHECK(maxg > 1e-2, "%s: gradients are not trivially zero (max %g)", actname, maxg);
    CHECK(maxdiff < 1e-4 * (maxg > 1 ? maxg : 1), "%s: backward matches finite differences (max diff %g)", actname,
          maxdiff);
    for (int p = 0; p < net->nparams; p++) { free(grad[p]); free(P[p]); }
    llfc_net_free(net);
}

static void test_xent(void)
{
    float z[6] = {1, 2, 3, 0, 0, 0};
    int32_t y[2] = {2, 1};
    double loss = 0;
    int64_t nerr = 0;
    float d[6];
    CHECK(llfc_xent(z, y, 2, 3, 0.5f, &loss, &nerr, d) == 0, "xent runs");
    double l0 = log(exp(1) + exp(2) + exp(3)) - 3, l1 = log(3.0);
    CHECK_NEAR(loss, l0 + l1, 1e-6, "xent: summed loss by hand");
    /* row 2 is a three-way tie: argmax is class 0, label 1 -> an error */
    CHECK(nerr == 1, "xent: error count (tie counts against)");
    CHECK_NEAR(d[2], 0.5 * (exp(3) / (exp(1) + exp(2) + exp(3)) - 1), 1e-6, "xent: gradient at the label");
    CHECK_NEAR(d[3], 0.5 / 3, 1e-6, "xent: gradient off the label");
    int32_t bad[2] = {0, 3};
    CHECK(llfc_xent(z, bad, 2, 3, 1, NULL, NULL, NULL) == -1 && strstr(llfc_errmsg(), "label 3"),
          "xent: label out of range is an error (%s)", llfc_errmsg());
    float big[2] = {1e4f, -1e4f};
    int32_t y1[1] = {1};
    loss = 0;
    llfc_xent(big, y1, 1, 2, 1, &loss, NULL, NULL);
    CHECK_NEAR(loss, 2e4, 1e-6, "xent: stable for large logits");
}

static void test_eval(void)
{
    int64_t widths[] = {4, 8, 3};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_KAIMING, 3);
    enum { N = 37 };
    float x[N * 4];
    int32_t y[N];
    llfc_rng rng;
    llfc_rng_seed(&rng, 9);
    for (int i = 0; i < N * 4; i++) x[i] = (float)llfc_rng_normal(&rng);
    for (int i = 0; i < N; i++) y[i] = (int32_t)llfc_rng_below(&rng, 3);
    double *P[4];
    for (int p = 0; p < 4; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        P[p] = malloc((size_t)m * sizeof(double));
        for (int64_t i = 0; i < m; i++) P[p][i] = llfc_tensor_data(net->param[p])[i];
    }
    int rerr;
    double rl = ref_loss(net, P, x, y, N, NULL, &rerr);
    llfc_eval_result r;
    CHECK(llfc_net_eval(net, x, y, N, 5, &r, NULL, NULL) == 0, "eval runs with a batch that does not divide n");
    CHECK(r.n == N, "eval: n");
    CHECK_NEAR(r.loss, rl, 1e-5, "eval: mean loss matches the reference");
    CHECK_NEAR(r.err, (double)rerr / N, 1e-12, "eval: error rate matches the reference");
    CHECK(llfc_net_eval(net, x, y, N, 0, &r, NULL, NULL) == -1, "eval: batch 0 is an error");
    for (int p = 0; p < 4; p++) free(P[p]);
    llfc_net_free(net);
}

static void test_backward_twice(void)
{
    /* the backward pass reads the weights and the kept values only: two
     * passes after one forward give the same gradients as loss_grad */
    int64_t widths[] = {3, 5, 4, 2};
    llfc_net *net = llfc_mlp_new(4, widths, LLFC_ACT_TANH, LLFC_INIT_TORCH, 2);
    float x[3 * 3] = {1, -2, .5f, .3f, .1f, -1, 2, 2, -.7f};
    int32_t y[3] = {0, 1, 1};
    float *grad[6], *g2[6];
    for (int p = 0; p < 6; p++) {
        grad[p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
        g2[p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
    }
    llfc_net_loss_grad(net, x, y, 3, grad, NULL, NULL);
    llfc_nn_work *w = llfc_nn_work_new(net, 4);
    double ls = 0;
    int ok = llfc_net_forward_train(net, w, x, 3) == 0 && llfc_net_loss_start(net, w, y, 3, &ls, NULL) == 0 &&
             llfc_net_backward(net, w, x, 3, g2) == 0;
    for (int p = 0; ok && p < 6; p++)
        ok = !memcmp(grad[p], g2[p], (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float));
    CHECK(ok, "backward after forward_train and loss_start equals loss_grad bit for bit");
    CHECK(llfc_net_backward(net, w, x, 3, g2) == -1, "a second backward without a forward is an error (%s)",
          llfc_errmsg());
    CHECK(llfc_net_forward_train(net, w, x, 9) == -1, "workspace: batch larger than allocated is an error");
    llfc_nn_work_free(w);
    for (int p = 0; p < 6; p++) free(grad[p]), free(g2[p]);
    llfc_net_free(net);
}

/* write a file holding tensors name_i of the given shapes (and metadata) */
static int write_st(const char *path, int n, const char **names, const int64_t (*shapes)[2], const int *ndims,
                    const char *widths_meta)
{
    llfc_st_file *f = llfc_st_new();
    for (int i = 0; i < n; i++) {
        llfc_tensor *t = llfc_tensor_new(ndims[i], shapes[i]);
        float *d = llfc_tensor_data(t);
        for (int64_t k = 0; k < llfc_tensor_numel(t); k++) d[k] = 0.01f * (float)k;
        llfc_st_add(f, names[i], t);
        llfc_tensor_free(t);
    }
    if (widths_meta) llfc_st_set_meta(f, "widths", widths_meta);
    int rc = llfc_st_write(path, f);
    llfc_st_free(f);
    return rc;
}

static void test_files(void)
{
    char path[] = "/tmp/llfc_test_nn_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    int64_t widths[] = {3, 4, 2};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_TANH, LLFC_INIT_TORCH, 1);
    CHECK(llfc_net_save(net, path) == 0, "save");
    llfc_net *back = llfc_net_load(path);
    CHECK(back && llfc_net_same_arch(net, back) == 0 && !strcmp(llfc_net_act(back), "tanh"), "load: same architecture");
    int same = back != NULL;
    for (int p = 0; same && p < net->nparams; p++)
        same = !memcmp(llfc_tensor_data(net->param[p]), llfc_tensor_data(back->param[p]),
                       (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float));
    CHECK(same, "load: same values");
    llfc_net_free(back);
    llfc_st_file *f = llfc_st_read(path);
    CHECK(f && !strcmp(llfc_st_get_meta(f, "widths"), "3,4,2") && !strcmp(llfc_st_get_meta(f, "arch"), "mlp") &&
              llfc_st_get(f, "2.weight") && llfc_st_get(f, "2.weight")->size[0] == 2,
          "metadata and state_dict names");
    llfc_st_free(f);

    const char *n1[] = {"0.weight", "0.bias", "2.weight"};
    const int64_t s1[][2] = {{4, 3}, {4, 0}, {2, 4}};
    const int d1[] = {2, 1, 2};
    int64_t s1b[3][2];
    memcpy(s1b, s1, sizeof s1b);
    s1b[1][0] = 4;
    write_st(path, 3, n1, (const int64_t(*)[2])s1b, d1, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "'2.weight' without '2.bias'"),
          "a weight without its bias (%s)", llfc_errmsg());
    const char *n2[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    const int64_t s2[][2] = {{4, 3}, {4, 0}, {2, 5}, {2, 0}};
    const int d2[] = {2, 1, 2, 1};
    write_st(path, 4, n2, s2, d2, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "takes 5 inputs"),
          "layers that do not chain (%s)", llfc_errmsg());
    const int64_t s3[][2] = {{4, 3}, {4, 0}, {2, 4}, {2, 0}};
    write_st(path, 4, n2, s3, d2, NULL);
    llfc_net *ok = llfc_net_load(path);
    CHECK(ok && ok->nfeat == 2 && ok->widths[0] == 3 && !strcmp(llfc_net_act(ok), "relu"),
          "no metadata: widths from the shapes, relu");
    llfc_net_free(ok);
    write_st(path, 4, n2, s3, d2, "3,5,2");
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "metadata says widths 3,5,2"),
          "metadata that disagrees with the shapes (%s)", llfc_errmsg());
    const char *n4[] = {"0.weight", "0.bias", "2.weight", "2.bias", "extra"};
    const int64_t s4[][2] = {{4, 3}, {4, 0}, {2, 4}, {2, 0}, {1, 0}};
    const int d4[] = {2, 1, 2, 1, 1};
    write_st(path, 5, n4, s4, d4, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "unexpected tensor 'extra'"),
          "an unexpected tensor (%s)", llfc_errmsg());
    const int64_t s5[][2] = {{4, 3}, {3, 0}, {2, 4}, {2, 0}};
    write_st(path, 4, n2, s5, d2, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "'0.bias' must be [4]"),
          "a bias of the wrong size (%s)", llfc_errmsg());
    const char *n6[] = {"layer.weight"};
    const int64_t s6[][2] = {{4, 3}};
    const int d6[] = {2};
    write_st(path, 1, n6, s6, d6, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "not an MLP state_dict"),
          "a file without 0.weight (%s)", llfc_errmsg());
    unlink(path);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), path), "a missing file names it (%s)", llfc_errmsg());
    llfc_net_free(net);
}

int main(void)
{
    test_xent();
    test_gradcheck(LLFC_ACT_RELU, "relu");
    test_gradcheck(LLFC_ACT_TANH, "tanh");
    test_gradcheck(LLFC_ACT_IDENTITY, "identity");
    test_eval();
    test_backward_twice();
    test_files();
    return check_summary();
}
