# syntax=docker/dockerfile:1
# HTTP + SignalR gateway image, including the live dashboard. Build from the repository root:
#   docker build -f deploy/gateway.Dockerfile -t analyticsengine/gateway:TAG .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# The build runs npm (gateway/Web.targets) to fetch the dashboard's SignalR browser client;
# node is needed only here, never in the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

COPY global.json Directory.Build.props Directory.Packages.props ./
COPY grain-interfaces/*.csproj grain-interfaces/
COPY service-defaults/*.csproj service-defaults/
COPY gateway/*.csproj gateway/
RUN dotnet restore gateway/AnalyticsEngine.Gateway.csproj

# npm layer: cached until package.json or the lock changes.
COPY gateway/package.json gateway/package-lock.json gateway/.npmrc gateway/
# The stamp tells Web.targets this install is current, so publish does not repeat it.
RUN cd gateway && npm ci --ignore-scripts --no-audit --no-fund \
 && touch node_modules/.analyticsengine-npm.stamp

COPY grain-interfaces/ grain-interfaces/
COPY service-defaults/ service-defaults/
COPY gateway/ gateway/
RUN dotnet publish gateway/AnalyticsEngine.Gateway.csproj -c Release -o /app --no-restore -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app .

ENV ASPNETCORE_HTTP_PORTS=8080
EXPOSE 8080

USER $APP_UID
ENTRYPOINT ["dotnet", "AnalyticsEngine.Gateway.dll"]
