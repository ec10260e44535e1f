# Broker node image: build with the SDK, run on the ASP.NET runtime.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish Broker.Host -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# 5080: HTTP + WebSocket. 4053: Akka.Remote between nodes, 8558: Cluster Bootstrap's contact point,
# 9090: /metrics, /health and /admin when Broker:Management:Urls is set (never expose these publicly).
EXPOSE 5080 4053 8558 9090
ENV ASPNETCORE_URLS=http://0.0.0.0:5080
ENTRYPOINT ["dotnet", "Broker.Host.dll"]
