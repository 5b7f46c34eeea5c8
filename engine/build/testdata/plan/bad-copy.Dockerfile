FROM busybox
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d local.txt /
ADD --checksum=md5:abc http://127.0.0.1/x /
ADD git@github.com:moby/buildkit.git /src
ADD https://github.com/moby/buildkit.git /src
ADD --keep-git-dir=true https://example.com/x.git /src
COPY a b c
COPY http://127.0.0.1/x /x
