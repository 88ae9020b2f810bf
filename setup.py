"""The one compiled module, ``synth_ops.sampler._kernels`` (everything else is in pyproject.toml).

Optional: where no C compiler is found the install goes on without it, and the sampler runs the
numpy code it replaces, which gives the same rows (``synth_ops/sampler/kernels.py``).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildKernels(build_ext):
    # a fused multiply-add rounds once where numpy rounds twice: the kernels must not be contracted
    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags = ["/O2", "/fp:precise", "/fp:contract-"]
        else:
            flags = ["-O2", "-ffp-contract=off", "-fno-fast-math"]
        for extension in self.extensions:
            extension.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[Extension("synth_ops.sampler._kernels", ["synth_ops/sampler/_kernels.c"], optional=True)],
    cmdclass={"build_ext": BuildKernels},
)
