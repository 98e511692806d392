#!/bin/sh
# SeaweedFS for docker-compose.yml: fills the S3 credentials into the identity config (kept out of the
# repository), then runs master, volume server, filer and the S3 gateway (port 8333) in one process.
set -eu
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
umask 077
sed -e "s|\${AWS_ACCESS_KEY_ID}|${AWS_ACCESS_KEY_ID}|" -e "s|\${AWS_SECRET_ACCESS_KEY}|${AWS_SECRET_ACCESS_KEY}|" \
  /etc/seaweedfs/s3.json.template > /tmp/s3.json
exec weed server -dir=/data -ip.bind=0.0.0.0 -volume.max=0 -filer -s3 -s3.port=8333 -s3.config=/tmp/s3.json
