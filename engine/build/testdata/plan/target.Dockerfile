FROM busybox AS base
ENV A=1

FROM base AS test
RUN echo test $A

FROM base AS release
ENV B=2
RUN echo release $A $B
