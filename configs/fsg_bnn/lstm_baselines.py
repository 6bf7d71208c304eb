"""FSG against the LSTM-based hypernetworks it claims to beat, on the mini task (MNIST, W1A1).

  python scripts/train.py --config=configs/fsg_bnn/lstm_baselines.py \
      --workdir=/work/workdirs/fsg_bnn/lstm_baselines

Runs STE, MetaQuant (MultiFC), MetaQuant-LSTM (the code's `-meta LSTMFC`: a coordinate-wise
LSTM, hidden 100, on w~ with its state carried across steps), FSG (Mamba slow-net) and FSG-LSTM
(the code's `-meta MetaFastAndLSTM`: the LSTM as the slow-net) from the same FP init, hypernet
init and batch order; 3 seeds; otherwise mini.py.
"""

import pathlib

from jaxlab.configs import config_module, finalize

_mini = config_module(pathlib.Path(__file__).with_name("mini.py"))


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.methods = ("ste", "metaquant", "metaquant_lstm", "fsg", "fsg_lstm")
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
