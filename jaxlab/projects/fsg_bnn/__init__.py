"""Fast and Slow Gradient Approximation for Binary Neural Network Optimization (FSG).

Chen, Gao, Qi, Li, Luo, Li, Li, AAAI 2025, arXiv:2412.11777; official code github.com/two-tiger/FSG
(built on MetaQuant, Chen et al., NeurIPS 2019).

Idea. A binary network's forward uses sign/rounding, so dL/dW must be estimated. The straight-
through estimator (STE) copies dL/dW_q through the quantiser. Hypernetwork estimators (MetaQuant)
instead *learn* it: a small element-wise "fast-net" rescales the gradient of the quantised weight,
and is trained end-to-end through a look-ahead weight W~ = W - lr * (learned gradient): the net
is evaluated at Q(W~) and the loss is differentiated w.r.t. the hypernetwork through W~ (with the
STE through Q), which is how the hypernetwork gets a training signal at all. FSG argues that
using only the current gradient lets estimation errors accumulate in the optimiser's momentum and
adds (i) Historical Gradient Storage (HGS), a per-layer FIFO of the last L quantised-weight
gradients, (ii) a "slow-net", one Mamba block shared by all layers, that scans the HGS sequence
and emits a momentum-like slow grad, and (iii) Layer Recognition Embeddings (LRE), a learned
per-layer token prepended to the slow-net's sequence. The look-ahead combines them as
W~ = W - lr (alpha slow + (1 - alpha) c * fast) with alpha = 0.9 (c: DoReFa chain-rule factor).

Modules: `model` (binary CIFAR-style ResNets, quantised weights as an explicit input),
`slownet` (pure-JAX Mamba, chunked selective scan), `method` (STE / MetaQuant / FSG / FSG without
LRE / FSG with the combined update, and the LSTM hypernetworks FSG claims to beat: MetaQuant-LSTM
and FSG with an LSTM slow-net; one jitted step each), `train` (FP pretrain, or the official FP
checkpoint, + all estimators from the same init and batch order, 3 seeds), `checkpoint` (the
official `.pth` FP checkpoints read without torch). The quantisers (sign/round STE, DoReFa) are
the shared custom_vjps in `jaxlab.ops.ste`.

Deviations from the paper (and from the official code):
1. Mini scale, CPU: the spec's binary "ResNet-8-lite" (stem 8, widths 8/16/32, 19,072 binary
   weights; stem and fc stay full precision) on a 12,800-image MNIST subset (100 steps/epoch; spec: all 60 k images), binarised
   fine-tuning 3 epochs with lr x0.1 at epoch 2; HGS length L = 3 (code 5), Mamba expand 8 and
   d_state 8 (code 100 and 16; spec mini 16 and 16: measured 1.75 s per FSG step against 0.70 s
   at 8/8 on the shared core). Sized so 3 seeds x 4 estimators finish on a shared 2-core CPU.
   Paper scale (ResNet-20, CIFAR-10, L = 5, expand 100) is configs/fsg_bnn/default.py.
2. The mini runs train their FP starting point here (no official checkpoint exists for the
   MNIST net): 2 epochs of the subset with Adam lr 1e-2 (spec: 1 epoch, 1e-3). With binary
   activations, lr 1e-3 reaches ~77 % in 300 steps; 1e-2 reaches ~89 %. default.py loads the
   official ResNet-20 checkpoint when `pretrain.checkpoint` names it (jaxlab does not ship it);
   it then uses the code's padding (`model.conv_padding="torch"`) and CIFAR-10 normalisation
   constants. The mini nets keep flax's SAME padding, with which they were measured.
3. Activations: task A uses binary activations (act_bits = 1, `ste_sign` with clip 1 on every
   conv input except the image stem; ReLUs dropped, Bi-Real/XNOR-style residual stream) so that
   binarisation hurts and estimators are distinguishable; the code's W1A32 is `act_bits = 32`
   (configs/fsg_bnn/mini_a32.py, cifar_subset.py). The code's DoReFa activation quantiser for
   conv inputs (x/max|x| rounding) is replaced by the clipped sign STE; the fc input stays real.
4. Task A keeps the stem conv and the fc full precision (`quant.fp_layers = ("conv1", "fc")`),
   as W1A1 nets usually do (XNOR-Net, Bi-Real, ReActNet); the code binarises them too (W1A32),
   and default.py does so. Their kernels are trained like the BN parameters (natural gradient,
   Adam direction) and, for the hypernetwork methods, look ahead along their previous Adam
   direction as the code does for the fc bias.
5. Evaluation recomputes the BN statistics of Q(W) on 1,024 training images before every test
   evaluation (`eval.bn_recalibrate`, "precise BN"; default.py: off, as the code). With binary
   activations the running averages lag the weights and a small shift flips many signs: the
   same FP-weight W32A1 net scored 48.5 % with batch statistics and 13.0 % with its running
   statistics. Applied identically to every estimator; the state's own statistics are untouched.
6. The slow-net runs all layers in ONE packed selective scan: each layer's sequence
   [LRE_l ; g_{t-k} ; ... ; g_{t-1}] is preceded by d_conv - 1 masked zeros and the state is reset
   at its LRE token, which is exactly equivalent to one call per layer (tested) but compiles one
   scan. The unfilled part of the HGS (t < L) is masked (x = 0, dt = 0), equal to the code's
   shorter sequence (tested).
7. Inferred from the spec, not verified against a run of the official code: the fast-net input
   (w~ of step t-1), the staleness (W's update at step t uses g_q of step t-1), step 0 updating
   nothing, the fc-bias look-ahead with the previous Adam direction, the MetaQuant look-ahead
   W - lr (c fast + sg(dir_{t-1} - c fast)), and `update_uses='combined'` (a jaxlab ablation,
   method `fsg_combined`).
8. The reduction test "FSG with fast = 1, slow = 0, alpha = 0 is STE + Adam bit for bit" holds
   with the look-ahead switched off and the current gradient (`fsg.lookahead=False`,
   `fsg.update_grad='current'`). With the code's look-ahead and one-step-stale update, trivial
   hypernetworks give "STE evaluated at a look-ahead point, one step late", which is not STE.
9. Evaluation reports the final and the best test accuracy over epochs (the code's Recorder
   reports the best); the gates use the final one.
10. LSTM hypernetworks (`metaquant_lstm` = the code's `-meta LSTMFC`, `fsg_lstm` = its
   `-meta MetaFastAndLSTM`): coordinate-wise LSTM (hidden = the code's shared `-hidden`, 100),
   one time step per training step on w~^{t-1}, state carried across steps and detached, output
   times g_q^{t-1}. Their weight update uses the stale gradient only (`update_grad='current'` is
   refused) and fsg_lstm ignores `update_uses='combined'` (the code updates W with c * fast).
   The code's other memory variants (LSTMFC-Grad/-merge/-momentum, S4/S5 slow-nets) are not
   built.
"""
