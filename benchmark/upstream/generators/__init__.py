"""Conditional diffusion generators, one per modality, shared by every construction method.

A generator is conditioned on a class label and a discovered pattern (cluster); index ``C``
(``n_classes``) and ``K`` (``k``) are the null tokens used for classifier-free guidance and for
untargeted sampling. The denoiser is a ``diffusers`` model (``UNet2DModel`` with summed label
and cluster embeddings as its class embedding for images, ``UNet1DModel`` with one-hot condition
channels for sequences, an MLP for tabular vectors), trained for v-prediction with min-SNR
weighting and EMA weights on a cosine schedule (``DDPMScheduler``); DDIM or DPM-Solver sample.
"""

from __future__ import annotations

from benchmark.upstream.generators.model import Generator, build, load
from benchmark.upstream.generators.sampling import sample

__all__ = ["Generator", "build", "load", "sample"]
