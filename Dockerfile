# Build: docker build -t clinicflow .
# Release step (migrations only): docker run --rm -e ConnectionStrings__Postgres=… clinicflow --migrate-only
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ClinicFlow.csproj ./
RUN dotnet restore ClinicFlow.csproj
COPY . .
RUN dotnet publish ClinicFlow.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app .
# No runtime knobs: thread-pool, socket and GC settings were measured and gained nothing; the
# request pool sizes itself to the container's cores (Database__RequestPoolSize to size it to the
# database instead, docs/production.md).
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_URLS=http://+:8080
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "ClinicFlow.dll"]
