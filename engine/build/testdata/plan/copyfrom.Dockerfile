ARG TOOLS=busybox:latest
FROM busybox AS first
RUN echo one > /one

FROM scratch AS skipped
COPY --from=first /one /

FROM scratch
COPY --from=0 /one /by-index
COPY --from=first /one /by-name
COPY --from=${TOOLS} /bin/busybox /bin/
COPY --from=registry.example:5000/tools /tool /tool
