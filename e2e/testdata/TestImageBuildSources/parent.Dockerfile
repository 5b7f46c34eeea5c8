FROM busybox
ONBUILD RUN echo triggered > /trig
