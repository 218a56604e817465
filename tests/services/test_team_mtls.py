"""The team API over mTLS (LINGUA_TLS_*): where the deployment gives teams client
certificates, a certificate signed by the configured CA is the caller's identity, its
common name the tenant. Certificates are made for the test with openssl."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.api_auth import ApiAuthSettings, TlsSettings
from lingua_common.operator_auth import TokenTable
from lingua_common.settings import RedisSettings
from tests.suite import LOCAL, InProcessSuite, team_address

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def authority(folder: Path, name: str) -> None:
    openssl("req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "1", "-subj", f"/CN={name}", cwd=folder)  # fmt: skip


def signed(folder: Path, name: str, common_name: str, ca: str, extension: str) -> None:
    openssl("req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={common_name}", cwd=folder)  # fmt: skip
    (folder / f"{name}.ext").write_text(extension + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "1",
            "-extfile", f"{name}.ext", cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    authority(folder, "ca")
    authority(folder, "rogue-ca")
    signed(folder, "server", "localhost", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    client = "extendedKeyUsage=clientAuth"
    signed(folder, "acme", "acme", "ca", client)
    signed(folder, "globex", "globex", "ca", client)
    signed(folder, "star", "*", "ca", client)  # "*" is no tenant: an operator is a token
    signed(folder, "rogue", "acme", "rogue-ca", client)
    return folder


@pytest.fixture
async def suite(
    single_redis_settings: RedisSettings, certificates: Path
) -> AsyncIterator[InProcessSuite]:
    tls = TlsSettings(
        cert_file=str(certificates / "server.pem"),
        key_file=str(certificates / "server.key"),
        client_ca_file=str(certificates / "ca.pem"),
    )
    auth = ApiAuthSettings(
        disabled=False,
        service_token="svc",
        team_tokens=TokenTable.parse("operator-token:*"),
        tls=tls,
    )
    running = await InProcessSuite(
        single_redis_settings,
        server=dataclasses.replace(LOCAL, auth=auth),
        dispatcher_overrides={"no_node_wait_ms": 0},
    ).start()
    yield running
    await running.stop()


def channel_as(suite: InProcessSuite, folder: Path, client: str | None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(folder / "ca.pem").read_bytes(),
        private_key=(folder / f"{client}.key").read_bytes() if client else None,
        certificate_chain=(folder / f"{client}.pem").read_bytes() if client else None,
    )
    return grpc.aio.secure_channel(
        team_address(suite.dispatcher),
        credentials,
        options=(("grpc.ssl_target_name_override", "localhost"),),
    )


def submit(request_id: str) -> pb.SubmitJobRequest:
    return pb.SubmitJobRequest(
        request_id=request_id,
        audio=b"a",
        audio_format="pcm16",
        sample_rate=16000,
        src_lang="xx",
        tgt_lang="yy",
        fail_fast=True,
    )


async def test_a_client_certificate_is_a_tenant(suite: InProcessSuite, certificates: Path) -> None:
    async with channel_as(suite, certificates, "acme") as channel:
        acme = pb_grpc.DispatcherServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):  # nobody serves xx->yy: fails at once
            await acme.SubmitJob(submit("cert/1"))
        jobs = (await acme.ListJobs(pb.ListJobsRequest())).jobs
        assert [(j.tenant_id, j.request_id) for j in jobs] == [("acme", "cert/1")]
    async with channel_as(suite, certificates, "globex") as channel:
        globex = pb_grpc.DispatcherServiceStub(channel)
        assert list((await globex.ListJobs(pb.ListJobsRequest())).jobs) == []
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await globex.GetJob(pb.GetJobRequest(job_id=jobs[0].job_id))
        assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
        # A token sent along decides (an operator with a certificate of its own).
        operator = (("authorization", "Bearer operator-token"),)
        everyone = await globex.ListJobs(pb.ListJobsRequest(), metadata=operator)
        assert [j.job_id for j in everyone.jobs] == [jobs[0].job_id]


async def test_no_certificate_a_foreign_one_or_no_tenant_in_it_is_refused(
    suite: InProcessSuite, certificates: Path
) -> None:
    for client in (None, "rogue"):  # the TLS handshake itself fails
        async with channel_as(suite, certificates, client) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await pb_grpc.DispatcherServiceStub(channel).ListJobs(
                    pb.ListJobsRequest(), timeout=5
                )
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, client
    async with channel_as(suite, certificates, "star") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.DispatcherServiceStub(channel).ListJobs(pb.ListJobsRequest())
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
