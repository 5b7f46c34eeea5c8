FROM busybox AS base
ONBUILD ARG FLAVOUR=plain
ONBUILD RUN echo $FLAVOUR > /flavour
ONBUILD COPY app.txt /triggered
LABEL base=1

FROM base AS child
RUN cat /flavour
