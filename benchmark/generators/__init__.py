"""Conditional diffusion generators, one per modality, shared by every construction method.

A generator is conditioned on a class label and a discovered pattern (cluster); index ``C``
(``n_classes``) and ``K`` (``k``) are the null tokens used for classifier-free guidance and for
untargeted sampling. The denoiser is a ``diffusers`` model (``UNet2DModel`` for images,
``UNet1DModel`` with one-hot condition channels for sequences, an MLP for tabular vectors); the
noise schedule is ``DDPMScheduler`` in training and DDIM or DPM-Solver at sampling time.
"""

from __future__ import annotations

from benchmark.generators.model import Generator, build, load
from benchmark.generators.sampling import sample

__all__ = ["Generator", "build", "load", "sample"]
