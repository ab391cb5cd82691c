"""The vanishing-gradient lab: measure why GRU and LSTM exist, and run every RNN architecture of the lecture.

* :mod:`.gradients`: ``gradient_through_time(run)`` -> ``||dL/dh_t||`` (and ``||dL/dc_t||``) for every
  timestep, layer and direction, read off the engine with hooks (checked against finite differences).
* :mod:`.tasks`: the adding problem and the toy tagging / sequence tasks, as seeded numpy batches.
* :mod:`.models`: one small model per RNN type, for every cell (:data:`CELLS`).
* :mod:`.adding`: the long-range memory benchmark, exploding gradients and clipping, gradient profiles.
* :mod:`.architectures`: bidirectional vs unidirectional, 1-3 layers, and one example per RNN type.

The demos ``python -m demos.vanishing_gradients``, ``demos.adding_problem`` and
``demos.architectures`` drive these and write tables and plots.
"""

from .gradients import TimeGradients, find_states, gradient_through_time
from .models import CELLS, make_rnn

__all__ = ["CELLS", "TimeGradients", "find_states", "gradient_through_time", "make_rnn"]
