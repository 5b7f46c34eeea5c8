FROM busybox AS deps
ARG CACHE=/root/.cache
WORKDIR /src
RUN --mount=type=cache,target=${CACHE} --mount=type=cache,id=apk,target=/var/cache/apk,sharing=locked,uid=1,gid=2,mode=0700 ls
RUN --mount=type=bind,source=go.mod,target=go.mod --mount=type=bind,target=/ctx,rw ls
RUN --mount=type=tmpfs,target=/tmp,size=16m --network=none ls
RUN --mount=type=secret,id=token --mount=type=secret,target=/etc/key --mount=type=secret,id=npm,env=NPM_TOKEN,required ls
RUN --mount=type=ssh --mount=type=ssh,id=work,target=/agent,mode=0666 --network=host ls
RUN --security=insecure ls

FROM busybox AS other
RUN touch /x

FROM busybox
RUN --mount=type=bind,from=other,source=/x,target=/y ls
RUN --mount=type=bind,from=deps,target=/deps ls
