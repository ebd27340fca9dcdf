# syntax=docker/dockerfile:1
# Orleans silo image. Build from the repository root:
#   docker build -f deploy/silo.Dockerfile -t analyticsengine/silo:TAG .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Project files first: the restore layer stays cached until a dependency changes, not on every code edit.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY grain-interfaces/*.csproj grain-interfaces/
COPY grains/*.csproj grains/
COPY service-defaults/*.csproj service-defaults/
COPY silo/*.csproj silo/
RUN dotnet restore silo/AnalyticsEngine.Silo.csproj

COPY grain-interfaces/ grain-interfaces/
COPY grains/ grains/
COPY service-defaults/ service-defaults/
COPY silo/ silo/
# The silo embeds the SQL migrations and applies them at start.
COPY sql/ sql/
RUN dotnet publish silo/AnalyticsEngine.Silo.csproj -c Release -o /app --no-restore -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app .

# Health, readiness and metrics; Orleans silo-to-silo and client gateway ports are set by the silo itself.
ENV ASPNETCORE_HTTP_PORTS=5090
EXPOSE 5090 11111 30000

# The .NET images ship an unprivileged 'app' user; a numeric id lets Kubernetes verify runAsNonRoot.
USER $APP_UID
ENTRYPOINT ["dotnet", "AnalyticsEngine.Silo.dll"]
