# syntax=docker/dockerfile:1
ARG BASE=busybox
ARG VERSION=1.0
FROM ${BASE} AS build
ARG VERSION
ENV APP=/app OUT=$APP/out
WORKDIR $APP
COPY src/ ./src/
RUN echo "$VERSION" > out

FROM busybox AS unused
RUN echo never

FROM scratch AS final
COPY --from=build /app/out /version
LABEL version=${VERSION:-unset}
CMD ["/version"]
