#!/usr/bin/python3
"""fxserve's example Python client (KServe v2 / Triton gRPC protocol).

Uses Debian's python3-grpcio and python3-protobuf; run it with /usr/bin/python3.
Python stubs are generated from the repository's proto/ folder on first use
and cached, so there is nothing to build. See README.md next to this file.

  fxserve_client.py [--url HOST:PORT] [--token-file F] [--timeout S] COMMAND
    health                      live / ready / grpc.health.v1 status
    metadata [MODEL]            server or model metadata
    generate [--stream] PROMPT  text generation (Triton LLM convention)
    selftest                    offline checks of this script (no server)
"""

import argparse
import codecs
import hashlib
import importlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

PROG = "fxserve_client"
PROTO_FILES = ("grpc_service.proto", "health.proto")
DEFAULT_URL = "127.0.0.1:8001"
DEFAULT_MODEL = "tiny-gpt2"
DEFAULT_TIMEOUT_S = 60.0
INSTALL_HINT = "run tools/install-deps.sh"

# Exit codes: 0 ok; 1 the server said no (RPC error, failed request, health
# not SERVING); 2 bad usage or a broken setup (argparse also uses 2).
EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


class SetupError(Exception):
    """Something on this machine is missing or unusable; exit 2."""


class ResponseError(Exception):
    """The server answered, but with a failure or something unreadable."""


# ---------------------------------------------------------------------------
# Stubs: protoc + grpc_python_plugin on proto/, cached by content hash.


def repo_root():
    # clients/python/fxserve_client.py -> the checkout's root.
    return Path(__file__).resolve().parent.parent.parent


def default_stubs_dir(proto_dir):
    digest = hashlib.sha256()
    for name in PROTO_FILES:
        digest.update(name.encode() + b"\0")
        digest.update((proto_dir / name).read_bytes() + b"\0")
    # Generated code must match the protobuf runtime that imports it.
    digest.update(protobuf_version().encode())
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return Path(base) / "fxserve" / "python-stubs" / digest.hexdigest()[:16]


def protobuf_version():
    try:
        import google.protobuf
    except ImportError as e:
        raise SetupError(
            f"the protobuf Python package is missing ({e}); {INSTALL_HINT} "
            "(Debian's python3-protobuf) and run this script with "
            "/usr/bin/python3") from e
    return google.protobuf.__version__


def find_grpc_plugin():
    for candidate in (shutil.which("grpc_python_plugin"),
                      "/usr/bin/grpc_python_plugin"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SetupError(
        "grpc_python_plugin not found (it generates the Python gRPC stubs); "
        f"{INSTALL_HINT} (Debian's protobuf-compiler-grpc)")


def stubs_present(directory):
    return all((directory / f"{Path(p).stem}_{suffix}.py").is_file()
               for p in PROTO_FILES for suffix in ("pb2", "pb2_grpc"))


def generate_stubs(proto_dir, out_dir):
    """Runs protoc into a scratch folder, then moves the files into out_dir.

    The move is per file and atomic, so concurrent runs sharing the cache
    never import a half-written module.
    """
    protoc = shutil.which("protoc")
    if protoc is None:
        raise SetupError(
            f"protoc not found (it generates the Python stubs); {INSTALL_HINT} "
            "(Debian's protobuf-compiler)")
    plugin = find_grpc_plugin()
    for name in PROTO_FILES:
        if not (proto_dir / name).is_file():
            raise SetupError(f"{proto_dir / name} not found; run this script "
                             "from an fxserve checkout (it reads proto/)")
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir))
    try:
        cmd = [
            protoc, f"--python_out={scratch}", f"--grpc_out={scratch}",
            f"--plugin=protoc-gen-grpc={plugin}", f"-I{proto_dir}"
        ] + [str(proto_dir / name) for name in PROTO_FILES]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SetupError("protoc failed generating the Python stubs:\n" +
                             run.stderr.strip() + f"\ncommand: {' '.join(cmd)}")
        for generated in scratch.glob("*.py"):
            os.replace(generated, out_dir / generated.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def load_stubs(stubs_dir=None):
    """Returns (grpc, grpc_service_pb2, grpc_service_pb2_grpc, health_pb2,
    health_pb2_grpc), generating the stubs first if needed."""
    try:
        import grpc
    except ImportError as e:
        raise SetupError(
            f"the grpc Python package is missing ({e}); {INSTALL_HINT} "
            "(Debian's python3-grpcio) and run this script with "
            "/usr/bin/python3") from e
    proto_dir = repo_root() / "proto"
    if stubs_dir is None:
        out = default_stubs_dir(proto_dir)
        # An unwritable home falls back to a per-user temp folder.
        fallback = (Path(tempfile.gettempdir()) /
                    f"fxserve-python-stubs-{os.getuid()}" / out.name)
        for folder in (out, fallback):
            if stubs_present(folder):
                out = folder
                break
            try:
                generate_stubs(proto_dir, folder)
                out = folder
                break
            except OSError as e:
                if folder == fallback:
                    raise SetupError(
                        f"cannot write the Python stubs to {out} nor to "
                        f"{fallback} ({e}); pass --stubs-dir DIR") from e
    else:
        # An explicit folder is always regenerated: cheap, and never stale.
        out = Path(stubs_dir).resolve()
        try:
            generate_stubs(proto_dir, out)
        except OSError as e:
            raise SetupError(f"cannot write the Python stubs to --stubs-dir "
                             f"{out}: {e}") from e
    sys.path.insert(0, str(out))
    try:
        modules = [
            importlib.import_module(name)
            for name in ("grpc_service_pb2", "grpc_service_pb2_grpc",
                         "health_pb2", "health_pb2_grpc")
        ]
    except Exception as e:  # A stub from a mismatched protoc, say.
        raise SetupError(
            f"cannot import the generated stubs in {out}: {e}; delete that "
            f"folder to regenerate them, or {INSTALL_HINT}") from e
    return (grpc, *modules)


# ---------------------------------------------------------------------------
# Wire format (Triton LLM convention): pure functions, no network.


def build_generate_request(pb, prompt, model, version="", max_tokens=None,
                           temperature=None, top_k=None, top_p=None,
                           seed=None, stream=False):
    """A ModelInferRequest with text_input plus only the options given."""
    request = pb.ModelInferRequest(model_name=model, model_version=version)

    def add(name, datatype, field, value):
        tensor = request.inputs.add(name=name, datatype=datatype, shape=[1])
        getattr(tensor.contents, field).append(value)

    add("text_input", "BYTES", "bytes_contents", prompt.encode("utf-8"))
    if max_tokens is not None:
        add("max_tokens", "INT32", "int_contents", max_tokens)
    if temperature is not None:
        add("temperature", "FP32", "fp32_contents", temperature)
    if top_k is not None:
        add("top_k", "INT32", "int_contents", top_k)
    if top_p is not None:
        add("top_p", "FP32", "fp32_contents", top_p)
    if seed is not None:
        add("seed", "UINT64", "uint64_contents", seed)
    if stream:
        add("stream", "BOOL", "bool_contents", True)
    request.outputs.add(name="text_output")
    return request


def encode_bytes_tensor(elements):
    """Triton's raw BYTES layout: per element a 4-byte little-endian length,
    then the bytes."""
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def decode_bytes_tensor(raw):
    elements, pos = [], 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise ResponseError(
                f"malformed BYTES tensor: {len(raw) - pos} stray byte(s) "
                f"where a 4-byte length should start (offset {pos})")
        (n,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + n > len(raw):
            raise ResponseError(
                f"malformed BYTES tensor: element of {n} bytes at offset "
                f"{pos - 4} runs past the end ({len(raw) - pos} left)")
        elements.append(raw[pos:pos + n])
        pos += n
    return elements


def text_output_bytes(response):
    """The text_output bytes of a ModelInferResponse (raw or typed contents);
    None when the response has no text_output (a bare final response)."""
    for i, output in enumerate(response.outputs):
        if output.name != "text_output":
            continue
        if output.datatype and output.datatype != "BYTES":
            raise ResponseError(
                f"text_output has datatype {output.datatype}, expected BYTES")
        if response.raw_output_contents:
            if i >= len(response.raw_output_contents):
                raise ResponseError(
                    f"response has {len(response.outputs)} outputs but only "
                    f"{len(response.raw_output_contents)} raw_output_contents")
            elements = decode_bytes_tensor(response.raw_output_contents[i])
        else:
            elements = list(output.contents.bytes_contents)
        return b"".join(elements)
    return None


def is_final(response):
    param = response.parameters.get("triton_final_response")
    return (param is not None and param.WhichOneof("parameter_choice")
            == "bool_param" and param.bool_param)


# ---------------------------------------------------------------------------
# Commands.


class Client:

    def __init__(self, args):
        (self.grpc, self.pb, self.pb_grpc, self.health_pb,
         self.health_pb_grpc) = load_stubs(args.stubs_dir)
        url = args.url
        for scheme in ("grpc://", "http://", "dns:///"):
            if url.startswith(scheme):
                url = url[len(scheme):]
        self.channel = self.grpc.insecure_channel(url)
        self.stub = self.pb_grpc.GRPCInferenceServiceStub(self.channel)
        self.health = self.health_pb_grpc.HealthStub(self.channel)
        self.timeout = args.timeout
        self.metadata = []
        if args.token_file:
            self.metadata.append(
                ("authorization", f"Bearer {read_token(args.token_file)}"))

    def call(self, method, request):
        return method(request, timeout=self.timeout, metadata=self.metadata)


def read_token(path):
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise SetupError(
            f"cannot read --token-file {path}: {e.strerror}") from e
    if not token:
        raise SetupError(f"--token-file {path} is empty")
    return token


def cmd_health(client, args):
    live = client.call(client.stub.ServerLive, client.pb.ServerLiveRequest())
    ready = client.call(client.stub.ServerReady, client.pb.ServerReadyRequest())
    check = client.call(client.health.Check,
                        client.health_pb.HealthCheckRequest(service=""))
    status = client.health_pb.HealthCheckResponse.ServingStatus.Name(
        check.status)
    if args.json:
        print(json.dumps({"live": live.live, "ready": ready.ready,
                          "status": status}))
    else:
        print(f"live: {str(live.live).lower()}")
        print(f"ready: {str(ready.ready).lower()}")
        print(f"health (grpc.health.v1): {status}")
    return EXIT_OK if status == "SERVING" else EXIT_FAILED


def cmd_metadata(client, args):
    from google.protobuf import json_format
    if args.model:
        md = client.call(
            client.stub.ModelMetadata,
            client.pb.ModelMetadataRequest(name=args.model,
                                           version=args.model_version))
    else:
        md = client.call(client.stub.ServerMetadata,
                         client.pb.ServerMetadataRequest())
    if args.json:
        print(json.dumps(json_format.MessageToDict(
            md, preserving_proto_field_name=True)))
        return EXIT_OK
    if args.model:
        print(f"model: {md.name}")
        print(f"versions: {', '.join(md.versions)}")
        print(f"platform: {md.platform}")
        for kind, tensors in (("input", md.inputs), ("output", md.outputs)):
            for t in tensors:
                shape = ",".join(str(d) for d in t.shape)
                print(f"{kind}: {t.name} {t.datatype} [{shape}]")
    else:
        print(f"name: {md.name}")
        print(f"version: {md.version}")
        print(f"extensions: {', '.join(md.extensions)}")
    return EXIT_OK


def cmd_generate(client, args):
    request = build_generate_request(
        client.pb, args.prompt, args.model, args.model_version,
        args.max_tokens, args.temperature, args.top_k, args.top_p, args.seed,
        stream=args.stream)
    if not args.stream:
        response = client.call(client.stub.ModelInfer, request)
        data = text_output_bytes(response)
        if data is None:
            raise ResponseError("the response has no text_output")
        text = data.decode("utf-8", errors="replace")
        if args.json:
            print(json.dumps({"text": text, "pieces": 1, "final": True}))
        else:
            sys.stdout.write(text + "\n")
        return EXIT_OK

    # One request, then the iterator ends: that half-closes the stream.
    responses = client.stub.ModelStreamInfer(iter([request]),
                                             timeout=client.timeout,
                                             metadata=client.metadata)
    # A piece may end inside a UTF-8 sequence (GPT-2 tokens are bytes).
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    all_bytes, pieces, final, printed = b"", 0, False, False
    try:
        for message in responses:
            if message.error_message:
                if printed:
                    sys.stdout.write("\n")
                    sys.stdout.flush()
                raise ResponseError(message.error_message)
            data = text_output_bytes(message.infer_response)
            if data:
                pieces += 1
                all_bytes += data
                if not args.json:
                    sys.stdout.write(decoder.decode(data))
                    sys.stdout.flush()
                    printed = True
            if is_final(message.infer_response):
                final = True
                break
    finally:
        # After the final response, or on an error: hang up.
        responses.cancel()
    if not final:
        if printed:
            sys.stdout.write("\n")
        raise ResponseError("the stream ended without a final response "
                            "(triton_final_response)")
    if args.json:
        print(json.dumps({"text": all_bytes.decode("utf-8", errors="replace"),
                          "pieces": pieces, "final": True}))
    else:
        sys.stdout.write(decoder.decode(b"", final=True) + "\n")
        sys.stdout.flush()
    return EXIT_OK


def cmd_selftest(args):
    """Offline checks: the stubs build and import, requests carry exactly the
    options given, and BYTES tensors round-trip."""
    _, pb, _, health_pb, _ = load_stubs(args.stubs_dir)

    r = build_generate_request(pb, "Hi \u00e9", DEFAULT_MODEL)
    assert [i.name for i in r.inputs] == ["text_input"], r
    assert r.inputs[0].datatype == "BYTES" and list(r.inputs[0].shape) == [1]
    assert list(r.inputs[0].contents.bytes_contents) == ["Hi é".encode()]
    assert r.model_name == "tiny-gpt2" and r.model_version == ""
    assert [o.name for o in r.outputs] == ["text_output"]
    assert not r.raw_input_contents

    r = build_generate_request(pb, "p", "m", "1", max_tokens=8,
                               temperature=0.5, top_k=40, top_p=0.9,
                               seed=2**64 - 1, stream=True)
    got = {i.name: (i.datatype, list(i.shape)) for i in r.inputs}
    assert got == {"text_input": ("BYTES", [1]), "max_tokens": ("INT32", [1]),
                   "temperature": ("FP32", [1]), "top_k": ("INT32", [1]),
                   "top_p": ("FP32", [1]), "seed": ("UINT64", [1]),
                   "stream": ("BOOL", [1])}, got
    by_name = {i.name: i.contents for i in r.inputs}
    assert list(by_name["max_tokens"].int_contents) == [8]
    assert list(by_name["temperature"].fp32_contents) == [0.5]
    assert list(by_name["top_k"].int_contents) == [40]
    assert abs(by_name["top_p"].fp32_contents[0] - 0.9) < 1e-6
    assert list(by_name["seed"].uint64_contents) == [2**64 - 1]
    assert list(by_name["stream"].bool_contents) == [True]
    # Zero is a value the user set, not "unset".
    r = build_generate_request(pb, "p", "m", temperature=0.0, seed=0)
    assert [i.name for i in r.inputs] == ["text_input", "temperature", "seed"]
    assert pb.ModelInferRequest.FromString(r.SerializeToString()) == r

    elements = [b"", b"hello", "\u20ac".encode(), bytes(range(256))]
    raw = encode_bytes_tensor(elements)
    assert raw[:4] == b"\0\0\0\0" and raw[4:8] == b"\x05\0\0\0"
    assert decode_bytes_tensor(raw) == elements
    assert decode_bytes_tensor(b"") == []
    for bad in (b"\x01\0\0", b"\x05\0\0\0abc", raw + b"\x01"):
        try:
            decode_bytes_tensor(bad)
        except ResponseError:
            pass
        else:
            raise AssertionError(f"accepted malformed {bad!r}")

    resp = pb.ModelInferResponse()
    resp.outputs.add(name="other", datatype="INT32", shape=[1])
    resp.outputs.add(name="text_output", datatype="BYTES", shape=[2])
    resp.raw_output_contents.extend(
        [struct.pack("<i", 7), encode_bytes_tensor([b"Hel", b"lo"])])
    assert text_output_bytes(resp) == b"Hello"
    assert not is_final(resp)
    typed = pb.ModelInferResponse()
    typed.outputs.add(name="text_output", datatype="BYTES",
                      shape=[1]).contents.bytes_contents.append(b"typed")
    assert text_output_bytes(typed) == b"typed"
    final = pb.ModelInferResponse()
    final.parameters["triton_final_response"].bool_param = True
    assert is_final(final) and text_output_bytes(final) is None
    not_final = pb.ModelInferResponse()
    not_final.parameters["triton_final_response"].bool_param = False
    assert not is_final(not_final)
    assert not is_final(pb.ModelInferResponse())

    # A character split across two streamed pieces prints whole.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    euro = "\u20ac".encode()
    assert decoder.decode(b"a" + euro[:1]) + decoder.decode(euro[1:]) == "a€"
    assert (health_pb.HealthCheckResponse.ServingStatus.Name(1) == "SERVING")
    print("selftest: ok")
    return EXIT_OK


# ---------------------------------------------------------------------------
# Command line.


def parse_args(argv):
    # Global options are accepted before or after the command: they live in a
    # parent parser with SUPPRESS defaults (so a subcommand does not reset
    # what was given before it), and the real defaults are applied after.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS,
                        help=f"server gRPC address (default {DEFAULT_URL})")
    common.add_argument("--token-file", default=argparse.SUPPRESS,
                        help="file with a bearer token to send")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS,
                        help="deadline per RPC (a whole stream), seconds "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    common.add_argument("--stubs-dir", default=argparse.SUPPRESS,
                        help="where to generate the Python stubs (default: "
                        "a cache folder under $XDG_CACHE_HOME or ~/.cache)")
    common.add_argument("--json", action="store_true",
                        default=argparse.SUPPRESS,
                        help="print one JSON object instead of text")

    parser = argparse.ArgumentParser(
        prog="fxserve_client.py", parents=[common],
        description="Example client for fxserve's KServe v2 / Triton gRPC "
        "endpoint.")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="COMMAND")
    sub.add_parser("health", parents=[common],
                   help="server live/ready and grpc.health.v1 status; exit 0 "
                   "iff SERVING")
    p = sub.add_parser("metadata", parents=[common],
                       help="server metadata, or a model's with MODEL")
    p.add_argument("model", nargs="?", metavar="MODEL")
    p.add_argument("--model-version", default="")
    p = sub.add_parser("generate", parents=[common],
                       help="generate text from PROMPT")
    p.add_argument("prompt", metavar="PROMPT")
    p.add_argument("--stream", action="store_true",
                   help="ModelStreamInfer: print pieces as they arrive")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model name (default {DEFAULT_MODEL})")
    p.add_argument("--model-version", default="",
                   help="model version (default: the server picks)")
    # Unset options are not sent: the server's defaults apply.
    p.add_argument("--max-tokens", type=int, metavar="N",
                   help="tokens to generate at most")
    p.add_argument("--temperature", type=float, metavar="T",
                   help="sampling temperature (0: greedy)")
    p.add_argument("--top-k", type=int, metavar="K",
                   help="sample from the K likeliest tokens")
    p.add_argument("--top-p", type=float, metavar="P",
                   help="nucleus sampling threshold")
    p.add_argument("--seed", type=int, metavar="S",
                   help="sampling seed (UINT64)")
    sub.add_parser("selftest", parents=[common],
                   help="offline checks of this script (no server needed)")

    args = parser.parse_args(argv)
    for name, value in (("url", DEFAULT_URL), ("token_file", None),
                        ("timeout", DEFAULT_TIMEOUT_S), ("stubs_dir", None),
                        ("json", False)):
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.command == "generate":
        if args.max_tokens is not None and not 0 < args.max_tokens < 2**31:
            parser.error("--max-tokens must be a positive INT32")
        if args.top_k is not None and not 0 <= args.top_k < 2**31:
            parser.error("--top-k must be a non-negative INT32")
        if args.seed is not None and not 0 <= args.seed < 2**64:
            parser.error("--seed must fit in UINT64")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Model text is UTF-8 whatever the locale says.
    sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    try:
        if args.command == "selftest":
            return cmd_selftest(args)
        client = Client(args)
        command = {"health": cmd_health, "metadata": cmd_metadata,
                   "generate": cmd_generate}[args.command]
        try:
            return command(client, args)
        except client.grpc.RpcError as e:
            code = e.code().name if e.code() is not None else "UNKNOWN"
            print(f"{PROG}: {code}: {e.details()}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            client.channel.close()
    except SetupError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_SETUP
    except ResponseError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
