# Isengard studio on a CUDA GPU (RunPod template or any Docker host with the NVIDIA runtime).
# Mirrors the README: install requirements.txt, then `python app.py`.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common curl ca-certificates git \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
 && rm -rf /var/lib/apt/lists/*

# The app runs as this user; the entrypoint hands the data volume to it and drops root.
RUN useradd --create-home --uid 1000 --shell /bin/bash isengard

WORKDIR /app
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRADIO_ANALYTICS_ENABLED=False
COPY requirements.txt ./
RUN pip install --no-cache-dir --upgrade pip \
 && pip install --no-cache-dir -r requirements.txt

COPY --chown=isengard:isengard . .
RUN chmod +x docker/entrypoint.sh \
 && mkdir -p /workspace /app/tmp /app/data /app/logs \
 && chown isengard:isengard /workspace /app/tmp /app/data /app/logs

# Listen on all interfaces inside the container: a login is then required (ISENGARD_AUTH, or a
# generated password printed in the container log). Data and logs go to the volume at /workspace
# (RunPod mounts its volume there; with plain Docker use -v isengard:/workspace).
ENV HOST=0.0.0.0 \
    PORT=7860 \
    HF_HOME=/workspace/isengard/hf-cache
VOLUME ["/workspace"]
EXPOSE 7860

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" || exit 1

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["python", "app.py"]
