"""moto's S3 server in a subprocess, with signature checking on, for the remote tests.

moto checks SigV4 as AWS does once its first few unauthenticated actions are used up: the
four below (a user, its policy, its access key, the bucket) use them, so every later request,
ptview's included, must be signed with the key made here.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_s3(bucket: str):
    """Yields (endpoint, credentials as boto3 keyword arguments, a signed boto3 client) with
    `bucket` created; the server stops on exit."""
    import boto3

    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4", MOTO_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam = boto3.client("iam", **session)
        iam.create_user(UserName="ptview")  # action 1
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="ptview", PolicyName="s3", PolicyDocument=json.dumps(policy))  # 2
        key = iam.create_access_key(UserName="ptview")["AccessKey"]  # 3
        creds = dict(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds)
        client.create_bucket(Bucket=bucket)  # 4: the last unauthenticated action
        yield endpoint, creds, client
    finally:
        process.terminate()
        process.wait(timeout=10)
