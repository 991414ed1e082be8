/* test_vgg.c - plain convolutional networks: forward against naive loops,
 * whole-network gradients against finite differences, permutation invariance,
 * a few training steps. */
#include "check.h"
#include "core.h"
#include "nn.h"
#include "perm.h"
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float frand(llfc_rng *r) { return (float)(2.0 * llfc_rng_double(r) - 1.0); }

/* naive conv3x3 pad 1 + ReLU on one sample: in [C,H,W] -> out [K,H,W] */
static void naive_conv_relu(const float *in, int C, int H, int W, const float *wt, const float *b, int K, float *out)
{
    for (int k = 0; k < K; k++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double s = b[k];
                for (int c = 0; c < C; c++)
                    for (int r = 0; r < 3; r++)
                        for (int q = 0; q < 3; q++) {
                            int y = i + r - 1, x = j + q - 1;
                            if (y < 0 || y >= H || x < 0 || x >= W) continue;
                            s += (double)wt[((k * C + c) * 3 + r) * 3 + q] * in[(c * H + y) * W + x];
                        }
                out[(k * H + i) * W + j] = s > 0 ? (float)s : 0.0f;
            }
}

static void naive_pool(const float *in, int K, int H, int W, float *out)
{
    for (int k = 0; k < K; k++)
        for (int i = 0; i < H / 2; i++)
            for (int j = 0; j < W / 2; j++) {
                float m = in[(k * H + 2 * i) * W + 2 * j];
                for (int r = 0; r < 2; r++)
                    for (int q = 0; q < 2; q++) {
                        float v = in[(k * H + 2 * i + r) * W + 2 * j + q];
                        if (v > m) m = v;
                    }
                out[(k * (H / 2) + i) * (W / 2) + j] = m;
            }
}

/* net: conv(2->3) pool, conv(3->4), head, linear(->5) on 2x6x6 */
static void naive_forward(const llfc_net *net, const float *x, int head, float *logits)
{
    float a1[3 * 36], p1[3 * 9], a2[4 * 9], h[36];
    naive_conv_relu(x, 2, 6, 6, llfc_tensor_data(net->param[0]), llfc_tensor_data(net->param[1]), 3, a1);
    naive_pool(a1, 3, 6, 6, p1);
    naive_conv_relu(p1, 3, 3, 3, llfc_tensor_data(net->param[2]), llfc_tensor_data(net->param[3]), 4, a2);
    int F = head == LLFC_VGG_GAP ? 4 : 36;
    if (head == LLFC_VGG_GAP)
        for (int k = 0; k < 4; k++) {
            double s = 0;
            for (int i = 0; i < 9; i++) s += a2[k * 9 + i];
            h[k] = (float)(s / 9);
        }
    else memcpy(h, a2, sizeof a2);
    const float *Wc = llfc_tensor_data(net->param[4]), *bc = llfc_tensor_data(net->param[5]);
    for (int o = 0; o < 5; o++) {
        double s = bc[o];
        for (int f = 0; f < F; f++) s += (double)Wc[o * F + f] * h[f];
        logits[o] = (float)s;
    }
}

/* Sign pattern of every conv pre-activation: a finite difference whose two
 * points have different patterns crosses a ReLU kink and is skipped. */
static unsigned long kinks(const llfc_net *net, const float *x, int n)
{
    float *pre[3] = {malloc((size_t)n * 108 * 4), malloc((size_t)n * 36 * 4), NULL};
    llfc_net_forward_features(net, x, n, pre, NULL);
    unsigned long h = 1469598103934665603UL;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < n * (l ? 36 : 108); i++) h = (h ^ (pre[l][i] > 0)) * 1099511628211UL;
    free(pre[0]), free(pre[1]);
    return h;
}

static double loss_of(const llfc_net *net, const float *x, const int32_t *y, int n)
{
    float *lg = malloc((size_t)n * 5 * sizeof *lg);
    double ls = 0;
    llfc_net_forward(net, x, n, lg);
    llfc_xent(lg, y, n, 5, 1.0f, &ls, NULL, NULL);
    free(lg);
    return ls / n;
}

int main(void)
{
    int chan[2] = {3, 4}, pool[2] = {1, 0};
    llfc_rng r;
    llfc_rng_seed(&r, 7);
    enum { N = 4, D = 2 * 36 };
    float x[N * D];
    int32_t y[N] = {0, 3, 4, 1};
    for (int i = 0; i < N * D; i++) x[i] = frand(&r);

    for (int head = 0; head < 2; head++) {
        const char *hn = head == LLFC_VGG_GAP ? "gap" : "flatten";
        llfc_net *net = llfc_vgg_new(2, 6, 6, 2, chan, pool, head, 5, 3);
        CHECK(net != NULL, "vgg_new %s", hn);
        if (!net) continue;
        /* nonzero biases so that they matter */
        for (int p = 1; p < net->nparams; p += 2) {
            float *b = llfc_tensor_data(net->param[p]);
            for (int64_t i = 0; i < llfc_tensor_numel(net->param[p]); i++) b[i] = 0.1f * frand(&r);
        }
        CHECK(!strcmp(net->pname[0], "0.weight") && !strcmp(net->pname[2], "3.weight") &&
                  !strcmp(net->pname[4], head == LLFC_VGG_GAP ? "7.weight" : "6.weight"),
              "%s: Sequential names %s %s %s", hn, net->pname[0], net->pname[2], net->pname[4]);
        CHECK(llfc_net_input_dim(net) == 72 && llfc_net_featdim(net, 0) == 108 && llfc_net_featdim(net, 1) == 36 &&
                  llfc_net_num_classes(net) == 5 && llfc_net_nfeat(net) == 3,
              "%s: feature sizes", hn);

        /* forward against naive loops */
        float lg[N * 5], ref[5];
        double md = 0;
        CHECK(llfc_net_forward(net, x, N, lg) == 0, "%s: forward", hn);
        for (int s = 0; s < N; s++) {
            naive_forward(net, x + s * D, head, ref);
            for (int o = 0; o < 5; o++) md = fmax(md, fabs(ref[o] - lg[s * 5 + o]));
        }
        CHECK(md < 1e-5, "%s: forward matches naive loops (max diff %.2g)", hn, md);

        /* features: post of conv 1 is its ReLU output, pre >= post where positive */
        float *pre[3] = {malloc(N * 108 * 4), NULL, NULL}, *post[3] = {malloc(N * 108 * 4), NULL, NULL};
        llfc_net_forward_features(net, x, N, pre, post);
        float a1[108];
        naive_conv_relu(x + D, 2, 6, 6, llfc_tensor_data(net->param[0]), llfc_tensor_data(net->param[1]), 3, a1);
        md = 0;
        for (int i = 0; i < 108; i++) md = fmax(md, fabs(a1[i] - post[0][108 + i]));
        int relu_ok = 1;
        for (int i = 0; i < N * 108; i++) relu_ok &= post[0][i] == (pre[0][i] > 0 ? pre[0][i] : 0.0f);
        CHECK(md < 1e-5 && relu_ok, "%s: conv features (max diff %.2g)", hn, md);
        free(pre[0]), free(post[0]);

        /* gradients against central differences (double-checked in float) */
        float *grad[6];
        for (int p = 0; p < 6; p++) grad[p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
        double loss = 0;
        CHECK(llfc_net_loss_grad(net, x, y, N, grad, &loss, NULL) == 0, "%s: loss_grad", hn);
        CHECK(fabs(loss - loss_of(net, x, y, N)) < 1e-5, "%s: loss %.6f", hn, loss);
        double worst = 0;
        int checked = 0, skipped = 0;
        for (int p = 0; p < 6; p++) {
            float *w = llfc_tensor_data(net->param[p]);
            int64_t m = llfc_tensor_numel(net->param[p]);
            for (int64_t i = 0; i < m; i += (m > 20 ? 7 : 1)) {
                float keep = w[i];
                double h = 1e-3;
                w[i] = keep + (float)h;
                double lp = loss_of(net, x, y, N);
                unsigned long kp = kinks(net, x, N);
                w[i] = keep - (float)h;
                double lm = loss_of(net, x, y, N);
                unsigned long km = kinks(net, x, N);
                w[i] = keep;
                if (kp != km) { skipped++; continue; }
                checked++;
                double fd = (lp - lm) / (2 * h);
                double e = fabs(fd - grad[p][i]) / fmax(1e-2, fabs(fd) + fabs(grad[p][i]));
                if (e > worst) worst = e;
            }
        }
        CHECK(worst < 2e-2 && checked > 3 * skipped, "%s: gradients match finite differences (worst rel err %.3g, "
              "%d entries, %d across a ReLU kink skipped)", hn, worst, checked, skipped);
        for (int p = 0; p < 6; p++) free(grad[p]);

        /* permutation invariance */
        llfc_perm *pm = llfc_perm_random(net->spec, 11);
        double pd = 1;
        CHECK(pm && llfc_perm_check(net, pm, x, N, &pd) == 0 && pd < 1e-5, "%s: perm check (max diff %.2g, %d groups)",
              hn, pd, net->spec->ngroups);
        llfc_net *q = pm ? llfc_perm_apply(pm, net) : NULL;
        CHECK(q && memcmp(llfc_tensor_data(q->param[0]), llfc_tensor_data(net->param[0]), 4 * 54) != 0,
              "%s: perm apply changes the weights", hn);
        llfc_net_free(q);
        llfc_perm_free(pm);

        /* clone, lerp */
        llfc_net *c = llfc_net_clone(net);
        CHECK(c && llfc_net_same_arch(c, net) == 0, "%s: clone same arch", hn);
        llfc_net *m2 = c ? llfc_net_lerp(net, c, 0.3) : NULL;
        float lg2[N * 5];
        CHECK(m2 && llfc_net_forward(m2, x, N, lg2) == 0 && fabs(lg2[0] - lg[0]) < 1e-5, "%s: lerp of equal nets", hn);
        llfc_net_free(m2);
        llfc_net_free(c);
        llfc_net_free(net);
    }

    /* model files: round trip, and a layout that disagrees with the tensors */
    {
        llfc_net *net = llfc_vgg_new(2, 6, 6, 2, chan, pool, LLFC_VGG_FLATTEN, 5, 3);
        char path[] = "/tmp/llfc_test_vgg_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        CHECK(net && llfc_net_save(net, path) == 0, "save a conv net");
        llfc_net *back = llfc_net_load(path);
        float l1[N * 5], l2[N * 5];
        CHECK(back && back->arch == LLFC_ARCH_VGG && llfc_net_same_arch(back, net) == 0 &&
                  llfc_net_forward(net, x, N, l1) == 0 && llfc_net_forward(back, x, N, l2) == 0 &&
                  memcmp(l1, l2, sizeof l1) == 0,
              "load gives the same conv net");
        llfc_net_free(back);
        llfc_st_file *f = llfc_st_new();
        for (int p = 0; p < net->nparams; p++) llfc_st_add(f, net->pname[p], net->param[p]);
        llfc_st_set_meta(f, "arch", "vgg");
        llfc_st_set_meta(f, "input", "2,6,6");
        llfc_st_set_meta(f, "layers", "3,M,5");
        llfc_st_set_meta(f, "classes", "5");
        llfc_st_set_meta(f, "head", "flatten");
        llfc_st_write(path, f);
        llfc_st_free(f);
        back = llfc_net_load(path);
        CHECK(!back && strstr(llfc_errmsg(), "'3.weight' is 4x3x3x3"), "layout mismatch named: %s", llfc_errmsg());
        llfc_net_free(back);
        remove(path);
        llfc_net_free(net);
    }

    /* bad arguments */
    int one[1] = {4}, p1[1] = {1};
    CHECK(llfc_vgg_new(1, 1, 1, 1, one, p1, LLFC_VGG_GAP, 3, 1) == NULL && strstr(llfc_errmsg(), "pool"),
          "pool on a 1x1 map refused: %s", llfc_errmsg());
    int bad[1] = {0};
    CHECK(llfc_vgg_new(1, 4, 4, 1, bad, p1, LLFC_VGG_GAP, 3, 1) == NULL, "zero channels refused: %s", llfc_errmsg());
    return check_summary();
}
