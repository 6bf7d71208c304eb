"""Memristive DBN: Efficient Training of the Memristive Deep Belief Net Immune to Non-Idealities
of the Synaptic Devices (Wang, Hoffer, Greenberg-Toledo, ..., Kvatinsky; Adv. Intell. Syst. 4(5),
2100249, 2022; arXiv 2203.07884).

Idea. A deep belief net of RBMs with *stochastic binary* units is trained by contrastive
divergence on memristive crossbars. Binary unit states are binary read voltages (no DACs), the
neuron is a comparator of sigmoid(I) against a random number, and the CD gradient
<v h>_data - <v h>_model is a difference of binary coincidence counts, accumulated exactly in
digital counters beside the array. A device is written only when its counter crosses a threshold
theta (= batch size), and then with one identical pulse in the sign direction. Small noisy updates
are integrated digitally instead of being written, which cuts write operations by about two
orders of magnitude and makes training robust to nonlinear, asymmetric, few-state, noisy devices
(the learning signal is sign-quantised; whatever dG a pulse gives, later pulses correct it).
Greedy CD-1 pre-training per RBM, then up-down (wake-sleep) fine-tuning with CD-k in the top RBM,
every update through the same threshold rule. Baselines: the float software DBN and conventional
online memristive CD writing the (stochastically rounded) per-batch update every batch.

Modules: `devices` (NeuroSim-style pulse model, literature device table, D2D/C2C, measured-curve
mode), `yflash` (the follow-up's Y-Flash physics model), `rng` (cheap hash RNG for device-sized
arrays), `model` (synapse state, crossbar read with read noise, stochastic units, read-outs),
`method` (CD counts, write rules, jitted epochs), `train` (runs, write-count ratios, gates,
robustness sweep), `plots` (figures and the results summary).

Deviations from the paper:
  * The AISY text was not readable; the scheme is reconstructed from the authors' follow-up
    MATLAB code (Y-Flash, arXiv 2203.09046), so everything below marked [plausible] is inferred.
  * [plausible] DBN layout 784-500-500-(500+10)-2000 (default.py: 30 + 30 epochs, CD-20). The CPU
    reproduction (mini.py) keeps that width and uses the spec's mini schedule: 10 CD-1 epochs per
    RBM, then 5 up-down epochs with CD-5 in the top RBM. The robustness sweep (robustness.py)
    runs 1 epoch per RBM at half width, 784-256-256-(256+10)-1000, or (`full_width`) mini's.
  * [plausible] The ideal reference device has 128 states (spec: 64-128; 128 as in the spec's
    calibration). With theta = 100 and W_max = 1.5 one pulse is 2 W_max / 128 = 0.023, i.e.
    2.3e-4 of weight per net coincidence count, a quarter of the software baseline's lr / B =
    1e-3, so CDacc on the ideal device learns more slowly per epoch than the software DBN
    (64 states would halve that gap). theta, W_max, P_max and lr follow the spec (sections 3, 4).
  * [plausible] Device models: NeuroSim `RealDevice` curves with the spec's device table (Ag:a-Si,
    TaOx/HfOx, AlOx/HfO2, EpiRAM, PCMO; PCMO recalled and unverified); a(NL) interpolated in log a
    between the spec's anchor values (a ~ 1/NL below 0.04), not NeuroSim's 900-entry table.
    Conductances are normalised and the weight is read from a differential pair against a fixed
    mid-range reference, so the on/off ratio cancels. The literature devices get D2D sigma_NL 0.5
    and read noise 0.5 % of the range per device (not in the table; our choice).
  * Measured-curve mode (the spec's optional NeuroSim `MeasuredDevice`; device name "measured",
    `device.measured_curve` / `device.measured_c2c`): a measured LTP/LTD trace is normalised by
    its overall G_min/G_max, made strictly monotone (running extremum, plateaus bridged
    linearly, trailing saturation cut: its scatter is C2C noise, modelled separately), and
    followed by inverse linear interpolation. D2D variation of NL does not apply to a trace
    (the range variation and read noise do). Not counted in the literature-device gates.
  * Y-Flash (the follow-up's device, `yflash.py`, device name "yflash"): the floating-gate
    physics (coupling capacitances, sub-/above-threshold currents, hot-electron program,
    Fowler-Nordheim erase, cycling degradation of V_a and beta, D2D draws of both) re-derived
    from the follow-up's equations. Its weights start from the device's initial charge, not
    N(0, 0.01^2); no read or C2C noise (the follow-up's DBN has none); CDacc only (online CD (b)
    needs a pulse size the model lacks). It is not counted in the literature-device gates.
  * [plausible] The paper's write-count baseline was not readable. We report (a) the events of
    conventional online CD on the CDacc trajectory (every device with dN != 0, every batch) and
    (b) a simulated conventional online CD (dW = lr dN / B, stochastically rounded to pulses of
    2 W_max / P_max, written every batch; lr 0.1). When (b) is run with pre-training only (as in
    the committed mini runs, for time), it is compared with the CDacc run's pre-training phase.
  * [inferred] Up-down fine-tuning uses sampled binary *predictions* (not probabilities) so that
    every generative/recognition statistic is an integer count for the digital accumulators; the
    software baseline uses the same counts with lr 0.1.
  * [inferred] Generative weights are fresh device arrays programmed with the recognition weights
    (with new D2D draws). Every accumulator starts fine-tuning at zero, as the follow-up's
    `train_finetune.m` (until 2026-12-07 the pre-trained arrays carried theirs over; each
    leftover is below theta, so runs before then differ by less than one pulse per device).
  * [inferred] Initial weights N(0, 0.01^2) for every scheme (devices: G+ programmed to
    G_ref + w / (2 W_max)); biases start at 0 (mid range).
  * Random numbers for device-sized arrays (unit sampling, C2C noise, read noise, stochastic
    rounding) come from a counter-based integer hash (`rng.py`); C2C/read noise is an Irwin-Hall
    approximation of a Gaussian (range +-3.5 sigma). jax.random.normal at that size is ~70x
    slower on CPU.
  * As coded by the authors: data pixels thresholded at 0.5 (the `rand` there is a no-op; option
    `visible_binarization='bernoulli'`), label units softmax then an independent Bernoulli per unit
    (option 'categorical'), one pulse even when |k| > 1 (option `multi_pulse=True`).
  * Read-out `label_current` (spec): deterministic up-pass, top units from pen with labels off,
    argmax of the top-down current into the label units. `free_energy` (Hinton 2006's exact
    label posterior) is reported beside it. The sampling read-out is the follow-up's
    `binary_samp`: each of the n passes draws the grey test pixels afresh as Bernoulli(pixel)
    and sums the label currents, then the argmax (until 2026-12-07: fixed binarised pixels and
    a mean of per-pass softmaxes; `eval.samp_input='binary'` keeps the pixels fixed). The
    follow-up's mean-field `analog` read-out (probabilities as states, grey pixels) is
    reported as `acc_analog`.
"""
