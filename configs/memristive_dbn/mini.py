"""Memristive DBN, CPU reproduction on full MNIST (60k/10k): software DBN, CDacc on the ideal and
five literature devices, conventional online memristive CD on the same devices.

  python scripts/train.py --config=configs/memristive_dbn/mini.py --workdir=/work/workdirs/memristive_dbn/mini
  python scripts/train.py --config=configs/memristive_dbn/mini.py:smoke --workdir=/tmp/mdbn_smoke

The spec's mini schedule (section 6) at the paper's width: 784-500-500-(500+10)-2000, batch 100,
theta 100, 10 CD-1 epochs per RBM, then 5 epochs of up-down fine-tuning with CD-5 in the top RBM
(paper: 30 + 30 epochs, CD-20; that is default.py). Deterministic read-out every epoch, 10-pass
sampling read-out at the end. See the README for the measured wall times and accuracies.
"""

from jaxlab.configs import base_config, finalize

LITERATURE = ("ag_si", "taox_hfox", "alox_hfo2", "epiram", "pcmo")


def base(project="memristive_dbn"):
  c = base_config(project)
  c.data.name = "mnist"
  c.data.batch_size = 100
  c.data.num_train = 0   # 0: all 60000
  c.data.num_test = 0    # 0: all 10000
  c.model.name = "dbn"
  c.model.n_vis = 784
  c.model.n_hid = 500
  c.model.n_pen = 500
  c.model.n_top = 2000
  c.model.n_labels = 10
  c.model.w_max = 1.5
  c.model.w_std = 0.01
  c.method = dict(
      theta=100,                      # CDmin = batch size
      multi_pulse=False,              # as coded: one pulse even when |k| > 1
      lr=0.1,                         # software and conventional online CD, pre-training
      finetune_lr=0.1,                # software / online CD during up-down fine-tuning
      cd_k_finetune=5,
      label_sampling="bernoulli",     # as coded; 'categorical' optional
      visible_binarization="threshold",
      readout="label_current",        # or "free_energy"
      key_impl="unsafe_rbg")          # fast counter-based RNG on CPU ("threefry2x32" also works)
  c.device = dict(
      ideal_states=128,
      d2d_nl=0.5,       # D2D sigma of NL for the literature devices
      d2d_range=0.0,    # D2D sigma of the conductance range
      read_noise=0.005,  # read noise per device, fraction of the range (ideal: 0)
      # Device name "measured": a measured pulse-response trace (.csv phase,conductance or .npz
      # ltp/ltd; devices.read_measured_curve) and its C2C sigma per pulse (fraction of range).
      measured_curve="",
      measured_c2c=0.0)
  c.train.pretrain_epochs = 10
  c.train.finetune_epochs = 5
  c.train.progress = True
  c.train.ckpt_every_s = 120.0  # checkpoint a run at an epoch end at most this often (0: every)
  c.eval.n_samples = 10
  # 'samp'/'analog' read-outs see the grey test images, each sampling pass drawing the pixels
  # afresh (the follow-up's test code); 'binary': the binarised images the det read-out sees.
  c.eval.samp_input = "grey"
  c.eval.every_epoch = True
  c.eval.chunk = 1000
  c.runs = dict(software=True, cdacc_devices=("ideal",) + LITERATURE,
                online_devices=LITERATURE)
  c.sweep = dict(enabled=False, device="taox_hfox", pretrain_epochs=1, schemes=("cdacc", "online"),
                 points=((0, 0.0, 0.0), (4, 0.02, 1.0), (4, 0.0, 0.0), (0, 0.02, 0.0),
                         (0, 0.0, 1.0)),
                 reference=(0, 0.0, 0.0), gate_point=(4, 0.02, 1.0))
  return c


def smoke(c):
  """1 epoch on 2000 images with a 784-64-64-(64+10)-128 net (seconds)."""
  c.data.num_train = 2000
  c.data.num_test = 1000
  c.model.n_hid = 64
  c.model.n_pen = 64
  c.model.n_top = 128
  c.train.pretrain_epochs = 1
  c.train.finetune_epochs = 1
  c.method.cd_k_finetune = 1
  c.eval.n_samples = 2
  c.train.progress = False
  c.runs.cdacc_devices = ("ag_si",)
  c.runs.online_devices = ("ag_si",)
  c.sweep.points = ((0, 0.0, 0.0), (4, 0.02, 1.0))


def get_config(arg=None):
  return finalize(base(), arg, smoke=smoke)
