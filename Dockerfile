# One image for every region service of compose.yaml.
FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY neurram ./neurram
RUN pip install --no-cache-dir .
ENTRYPOINT ["neurram"]
