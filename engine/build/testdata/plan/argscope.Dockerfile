ARG GLOBAL=g1
ARG OVERRIDDEN=default
FROM busybox
# GLOBAL is not in scope until declared again.
RUN echo "[$GLOBAL]"
ARG GLOBAL
RUN echo "[$GLOBAL]"
ARG OVERRIDDEN
ARG LOCAL=l-$GLOBAL
ENV LOCAL=env-wins
RUN echo "$OVERRIDDEN $LOCAL"
USER nobody
WORKDIR sub
WORKDIR dir
SHELL ["/bin/sh", "-ec"]
RUN pwd
ENTRYPOINT echo hi
EXPOSE 80 53/udp
