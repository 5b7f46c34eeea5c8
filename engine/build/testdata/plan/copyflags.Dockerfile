FROM busybox
WORKDIR /app
COPY --exclude=*.md --exclude=tmp/ src/ ./src/
COPY --parents a/b/c.txt x/./y/*.txt /p/
ADD --exclude=*.log logs /logs/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://127.0.0.1:8080/file.txt /dl/
ADD http://127.0.0.1:8080/archive.tar.gz /x.tgz
ADD --unpack=true http://127.0.0.1:8080/archive.tar.gz /unpacked/
ADD site.tar.gz /srv/
