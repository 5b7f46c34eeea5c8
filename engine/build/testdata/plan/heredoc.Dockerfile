# syntax=docker/dockerfile:1
FROM busybox
ARG NAME=world
ENV GREETING=hello
RUN <<EOF
echo "$GREETING $NAME" > /simple
EOF
RUN <<EOF
#!/bin/sh
echo from a script > /script
EOF
RUN <<-EOT cat > /tabs && <<"RAW" cat > /raw
	tabbed $NAME
	EOT
raw $NAME
RAW
COPY <<EOF /etc/greeting
${GREETING} "${NAME}" $$ \$NAME
EOF
COPY <<'EOF' <<EOF2 /opt/
unexpanded $NAME
EOF
expanded $NAME
EOF2
ADD --chmod=755 <<EOF /bin/hi
#!/bin/sh
echo hi
EOF
