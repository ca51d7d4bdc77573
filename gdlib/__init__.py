"""gdlib: the numpy library behind the course *Gradient Descent for Neural Networks*.

The library is layered; a package imports only from the layers below it (tests/test_layers.py
checks this, and that no module imports itself back through others):

4. :mod:`gdlib.widgets`: the explorers (live sliders and their static HTML twins).
3. :mod:`gdlib.landscapes` (2-D loss landscapes, traces of the rules on them, global search),
   :mod:`gdlib.experiments` (the experiments lab) and :mod:`gdlib.plotting` (the book's style).
2. :mod:`gdlib.train`: the training loop :func:`~gdlib.train.fit` and its
   :class:`~gdlib.train.History`.
1. :mod:`gdlib.nn` (activations, layers, losses, models, gradient checks), :mod:`gdlib.data`
   (data sets and splits) and :mod:`gdlib.optim` (update rules and learning-rate schedules).
0. The modules at the top of the package, which import no other part of gdlib: ``_validate``
   (argument checks shared by all layers), :mod:`gdlib.palette` (colours) and
   :mod:`gdlib.book` (glue for the book's chapters).

Each package's ``__init__`` lists its public API; import from the package
(``from gdlib.nn import MLP``), not from the module inside it that defines a name.
"""

__version__ = "0.1.0"
