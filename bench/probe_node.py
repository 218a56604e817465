"""The protobuf bodies of a probe node: registered over gRPC, never given a job.

Its only language pair is one no client asks for, so the dispatcher never picks it
and the probe cannot disturb the fleet's jobs.
"""

from __future__ import annotations

from lingua.common.v1 import node_pb2

PROBE_PAIR = ("xa", "xb")
SERVICE_TYPES = ("asr", "nmt", "tts", "semantic")


def capability_by_type() -> list[node_pb2.CapabilityByType]:
    return [
        node_pb2.CapabilityByType(type=kind, ready=True, ready_impl_ids=[f"probe-{kind}"])
        for kind in SERVICE_TYPES
    ]


def descriptor() -> node_pb2.NodeDescriptor:
    src, tgt = PROBE_PAIR
    return node_pb2.NodeDescriptor(
        version="bench-probe/1.0",
        platform=node_pb2.PLATFORM_LINUX,
        hardware=node_pb2.Hardware(
            cpu_cores=8, memory_gb=32, gpus=[node_pb2.Gpu(name="BenchProbe GPU", memory_gb=24)]
        ),
        installed_models=[
            node_pb2.InstalledModel(
                model_id=f"probe-nmt-{src}-{tgt}",
                kind="nmt",
                version="1.0",
                src_lang=src,
                tgt_lang=tgt,
                enabled=True,
            )
        ],
        installed_services=[
            node_pb2.InstalledService(
                service_id=f"probe-{kind}", type=kind, device="gpu", status="running"
            )
            for kind in SERVICE_TYPES
        ],
        capability_by_type=capability_by_type(),
        features_supported=node_pb2.FeatureFlags(),
        accept_public_jobs=False,
        capability_schema_version="2.0",
        language_capabilities=node_pb2.LanguageCapabilities(
            asr_languages=[src],
            semantic_languages=[tgt],
            tts_languages=[tgt],
            semantic_core_ready=True,
        ),
    )


def usage(beat: int) -> node_pb2.ResourceUsage:
    """What a node reports in the body of a heartbeat (varies a little, like a real one)."""
    return node_pb2.ResourceUsage(
        cpu_percent=5.0 + beat % 7,
        mem_percent=20.0,
        running_jobs=0,
        gpu_percent=float(beat % 5),
        gpu_mem_percent=40.0,
    )
