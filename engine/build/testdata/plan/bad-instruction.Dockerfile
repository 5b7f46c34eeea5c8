FROM busybox
RUN true
BOGUS thing
