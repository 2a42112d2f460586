#!/usr/bin/env python3
"""boto3 side of the moto end-to-end test (an independent client to set up and check state).

  moto_helper.py setup URL BUCKET   -> IAM user + allow-all policy + access key (the server's
                                       first 3 unauthenticated calls), then creates BUCKET with
                                       that key; prints {"ak": ..., "sk": ...}
  moto_helper.py objects URL AK SK BUCKET PREFIX -> {"key": sha256 of its bytes, ...}
  moto_helper.py put URL AK SK BUCKET KEY TEXT    -> puts one object
  moto_helper.py put-file URL AK SK BUCKET KEY PATH -> puts one object from a local file
  moto_helper.py log URL AK SK GROUP STREAM MESSAGE... -> creates the group and stream (if new)
                                                       and puts one event per MESSAGE
"""
import hashlib
import json
import sys
import time

import boto3


def client(service, url, ak="x", sk="x"):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=ak, aws_secret_access_key=sk)


def main():
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        iam = client("iam", url)
        iam.create_user(UserName="tester")
        iam.put_user_policy(UserName="tester", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="tester")["AccessKey"]
        ak, sk = key["AccessKeyId"], key["SecretAccessKey"]
        client("s3", url, ak, sk).create_bucket(Bucket=sys.argv[3])
        print(json.dumps({"ak": ak, "sk": sk}))
    elif cmd == "objects":
        ak, sk, bucket, prefix = sys.argv[3:7]
        s3 = client("s3", url, ak, sk)
        out = {}
        # Filtered here: moto's SigV4 check rejects boto3's ListObjectsV2 with Prefix=a/b/.
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            if not obj["Key"].startswith(prefix):
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"]] = hashlib.sha256(body).hexdigest()
        print(json.dumps(out))
    elif cmd == "put":
        ak, sk, bucket, key, text = sys.argv[3:8]
        client("s3", url, ak, sk).put_object(Bucket=bucket, Key=key, Body=text.encode())
    elif cmd == "put-file":
        ak, sk, bucket, key, path = sys.argv[3:8]
        with open(path, "rb") as f:
            client("s3", url, ak, sk).put_object(Bucket=bucket, Key=key, Body=f.read())
    elif cmd == "log":
        ak, sk, group, stream = sys.argv[3:7]
        logs = client("logs", url, ak, sk)
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)  # moto, as CloudWatch, rejects events older than 14 days
        events = [{"timestamp": now + i, "message": m} for i, m in enumerate(sys.argv[7:])]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
