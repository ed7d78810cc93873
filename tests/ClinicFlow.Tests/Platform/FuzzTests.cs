using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// A schema-driven fuzzer over the served OpenAPI document: every operation, with the admin's
/// token, the operator's key and none, with values drawn from each parameter's and body's schema
/// and mutated into hostile ones (wrong types, missing fields, control characters, huge and odd
/// text, unknown ids). Every answer must be below 500 and every failure must be the error contract.
/// Reproducible: <c>CLINICFLOW_FUZZ_SEED</c> and <c>CLINICFLOW_FUZZ_ROUNDS</c> (see docs/production.md).
/// </summary>
public sealed class FuzzTests(AppFixture app) : ApiTest(app)
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    private static readonly string[] NastyText =
    [
        "", " ", "a", "José Núñez", "nunez jose", new string('x', 5000), "'; drop table patients;--", "%", "_", "\0", "a\u0007b",
        "😀", "2026-02-30", "9999-12-31T23:59:59Z", "2026-03-29T02:30:00+01:00", "-1", "1e309", "<script>alert(1)</script>", "null",
        "../../etc/passwd", "+5491122334455", "a@b.c", "00000000-0000-0000-0000-000000000000", "09:00", "24:00", "FREQ=WEEKLY;COUNT=500",
        "eyJhbGciOiJub25lIn0.e30.", "a.b.c.d.e", "a\0b", "\0\0", "x\u0001y", "\u001f",
    ];

    private static readonly JsonNode?[] NastyNumbers = [0, -1, 1, 7, 50, 201, int.MaxValue, 2147483648L, long.MinValue, 1.5, 1e20];

    [Fact]
    public async Task Answers_every_operation_below_500_and_within_the_error_contract()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CLINICFLOW_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261129;
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("CLINICFLOW_FUZZ_ROUNDS"), CultureInfo.InvariantCulture, out var r) ? r : 4;
        var random = new Random(seed);
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        var admin = await RegisterClinicAsync(host: isolated.Host);
        var ids = await SeedIdsAsync(isolated.Host, admin);
        using var client = isolated.Host.Server.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative), Ct));
        var fuzzer = new Generator(document.RootElement, random, ids);

        var failures = new List<string>();
        var sent = 0;
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => Methods.Contains(o.Name)))
            {
                // Random rounds, then one request per parameter and body field carrying each killer value beside valid ones.
                var plans = Enumerable.Range(0, rounds).Select(round => (Round: round, Inject: (Injection?)null))
                    .Concat(fuzzer.Injections(operation.Value).Select(injection => (Round: 0, Inject: (Injection?)injection)));
                foreach (var (round, inject) in plans)
                {
                    foreach (var credential in inject is null ? new[] { "token", "none", "key" } : ["token"])
                    {
                        using var request = fuzzer.Request(operation.Name, path.Name, operation.Value, round, inject);
                        if (credential == "token")
                        {
                            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin.Token);
                        }
                        else if (credential == "key")
                        {
                            request.Headers.Add("X-Admin-Key", AppFixture.SuperadminKey);
                        }

                        var description = $"{request.Method} {request.RequestUri} [{credential}]";
                        using var response = await client.SendAsync(request, Ct);
                        sent++;
                        if (await CheckAsync(response, operation.Value) is { } problem)
                        {
                            failures.Add($"{description}: {problem}");
                        }
                    }
                }
            }
        }

        Assert.True(sent > 300, $"only {sent} requests were sent");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} answers broke the contract (seed {seed}):\n" + string.Join('\n', failures.Take(25)));
    }

    private static async Task<string?> CheckAsync(HttpResponseMessage response, JsonElement operation)
    {
        var status = (int)response.StatusCode;
        var body = await response.Content.ReadAsStringAsync(Ct);
        if (status >= 500)
        {
            return $"{status} {Snippet(body)}";
        }

        // The document is the client's contract: every status an operation answers is declared on it.
        var responses = operation.GetProperty("responses");
        var code = status.ToString(CultureInfo.InvariantCulture);
        if (!responses.TryGetProperty(code, out _) && !responses.TryGetProperty($"{code[0]}XX", out _) && !responses.TryGetProperty("default", out _))
        {
            return $"{status} not documented: {Snippet(body)}";
        }

        if (status < 400)
        {
            return null;
        }

        try
        {
            using var error = JsonDocument.Parse(body);
            return error.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String
                && error.RootElement.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String
                ? null
                : $"{status} without error/code: {Snippet(body)}";
        }
        catch (JsonException)
        {
            return $"{status} not JSON: {Snippet(body)}";
        }
    }

    private static string Snippet(string body) => body.Length > 200 ? body[..200] : body;

    private sealed record Injection(string Name, string Value);

    /// <summary>Real ids of the fuzzing clinic, so some requests reach past the 404s.</summary>
    private static async Task<List<string>> SeedIdsAsync(IAlbaHost host, Account admin)
    {
        var patient = await host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Fuzz Patient", phone = "+5491122334455" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var doctor = await host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Dra. Fuzz" }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return
        [
            JsonNode.Parse(await patient.ReadAsTextAsync())!["id"]!.GetValue<string>(),
            JsonNode.Parse(await doctor.ReadAsTextAsync())!["id"]!.GetValue<string>(),
            admin.UserId.ToString(),
            admin.ClinicId!.Value.ToString(),
        ];
    }

    /// <summary>
    /// Builds requests from the document's schemas: round 0 valid-looking, later rounds turn about a
    /// quarter of the values hostile, so a bad value often arrives beside good ones and reaches past validation.
    /// </summary>
    private sealed class Generator(JsonElement document, Random random, List<string> ids)
    {
        private readonly JsonElement _schemas = document.GetProperty("components").GetProperty("schemas");

        private static readonly string[] Killers = ["a\0b", "x\u0001y", new string('z', 20_000), "😀\u001f"];

        /// <summary>Every query parameter and top-level body field, each with each killer value.</summary>
        public IEnumerable<Injection> Injections(JsonElement operation)
        {
            var names = new List<string>();
            foreach (var parameter in operation.TryGetProperty("parameters", out var p) ? p.EnumerateArray() : default)
            {
                if (parameter.GetProperty("in").GetString() == "query")
                {
                    names.Add(parameter.GetProperty("name").GetString()!);
                }
            }

            if (operation.TryGetProperty("requestBody", out var body) && body.TryGetProperty("content", out var content)
                && content.TryGetProperty("application/json", out var json) && Resolve(json.GetProperty("schema")) is { } schema
                && schema.TryGetProperty("properties", out var properties))
            {
                names.AddRange(properties.EnumerateObject().Select(x => x.Name));
            }

            return names.SelectMany(name => Killers.Select(value => new Injection(name, value)));
        }

        private JsonElement? Resolve(JsonElement schema) =>
            schema.TryGetProperty("$ref", out var reference) ? _schemas.GetProperty(reference.GetString()!.Split('/')[^1]) : schema;

        public HttpRequestMessage Request(string method, string template, JsonElement operation, int round, Injection? inject)
        {
            var hostile = round > 0;
            var path = template;
            var query = new List<string>();
            foreach (var parameter in operation.TryGetProperty("parameters", out var p) ? p.EnumerateArray() : default)
            {
                var name = parameter.GetProperty("name").GetString()!;
                var schema = parameter.TryGetProperty("schema", out var ps) ? ps : default;
                var value = Text(Value(schema, 0, hostile));
                switch (parameter.GetProperty("in").GetString())
                {
                    case "path":
                        // An encoded NUL in a path never reaches the app: the server refuses the request line (docs/production.md).
                        value = value.Replace("\0", "", StringComparison.Ordinal);
                        path = path.Replace("{" + name + "}", Uri.EscapeDataString(value.Length == 0 ? "x" : value), StringComparison.Ordinal);
                        break;
                    case "query" when inject?.Name == name:
                        query.Add($"{Uri.EscapeDataString(name)}={Uri.EscapeDataString(inject.Value)}");
                        break;
                    case "query" when inject is null && random.NextDouble() < 0.7:
                        query.Add($"{Uri.EscapeDataString(name)}={Uri.EscapeDataString(value)}");
                        break;
                }
            }

            var url = query.Count == 0 ? path : path + "?" + string.Join('&', query);
            var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), new Uri(url, UriKind.Relative));
            if (operation.TryGetProperty("requestBody", out var body) && body.TryGetProperty("content", out var content))
            {
                request.Content = Body(content, hostile, inject);
            }

            return request;
        }

        private HttpContent? Body(JsonElement content, bool hostile, Injection? inject)
        {
            if (content.TryGetProperty("application/json", out var json))
            {
                var node = Value(json.GetProperty("schema"), 0, hostile);
                if (inject is not null && node is JsonObject obj)
                {
                    obj[inject.Name] = inject.Value;
                }

                if (hostile && random.NextDouble() < 0.1)
                {
                    return new StringContent("{\"broken\": ", Encoding.UTF8, "application/json");
                }

                return new StringContent(node?.ToJsonString() ?? "null", Encoding.UTF8, "application/json");
            }

            if (content.TryGetProperty("multipart/form-data", out _))
            {
                var form = new MultipartFormDataContent();
                var bytes = new byte[random.Next(0, 2048)];
                random.NextBytes(bytes);
                form.Add(new ByteArrayContent(bytes), "file", "fuzz.bin");
                form.Add(new StringContent(Pick(NastyText)), "patientId");
                form.Add(new StringContent(Pick(NastyText)), "keyEnvelope");
                return form;
            }

            return new StringContent(Pick(NastyText), Encoding.UTF8, "text/plain");
        }

        private JsonNode? Value(JsonElement schema, int depth, bool hostile)
        {
            if (schema.ValueKind != JsonValueKind.Object || depth > 5)
            {
                return null;
            }

            if (schema.TryGetProperty("$ref", out var reference))
            {
                return Value(_schemas.GetProperty(reference.GetString()!.Split('/')[^1]), depth + 1, hostile);
            }

            hostile = hostile && random.NextDouble() < 0.25;
            if (hostile && random.NextDouble() < 0.3)
            {
                return Wrong();
            }

            foreach (var combinator in new[] { "oneOf", "anyOf", "allOf" })
            {
                if (schema.TryGetProperty(combinator, out var options))
                {
                    var all = options.EnumerateArray().ToList();
                    return Value(all[random.Next(all.Count)], depth + 1, hostile);
                }
            }

            if (schema.TryGetProperty("enum", out var values))
            {
                var all = values.EnumerateArray().ToList();
                return all.Count == 0 ? null : JsonNode.Parse(all[random.Next(all.Count)].GetRawText());
            }

            var types = TypesOf(schema);
            if (types.Contains("null") && random.NextDouble() < 0.2)
            {
                return null;
            }

            var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
            var type = types.FirstOrDefault(t => t != "null") ?? "object";
            return type switch
            {
                "string" => StringValue(format, hostile),
                "integer" or "number" => hostile ? Pick(NastyNumbers)?.DeepClone() : JsonValue.Create(random.Next(1, 60)),
                "boolean" => JsonValue.Create(random.Next(2) == 0),
                "array" => Array(schema, depth, hostile),
                _ => Object(schema, depth, hostile),
            };
        }

        private JsonValue StringValue(string? format, bool hostile)
        {
            if (hostile)
            {
                return JsonValue.Create(Pick(NastyText))!;
            }

            return JsonValue.Create(format switch
            {
                "uuid" => random.NextDouble() < 0.6 ? Pick(ids) : Guid.NewGuid().ToString(),
                "date-time" => DateTimeOffset.UtcNow.AddDays(random.Next(-30, 60)).AddMinutes(random.Next(0, 1440)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                "date" => DateOnly.FromDateTime(DateTime.UtcNow.AddDays(random.Next(-400, 400))).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                "email" => $"fuzz{random.Next(1000)}@test.clinicflow.local",
                _ => Pick(["Ana", "consulta", "09:00", "+5491122334455", "treatment", "admin", "doctor", "month", "week"]),
            })!;
        }

        private JsonArray Array(JsonElement schema, int depth, bool hostile)
        {
            var array = new JsonArray();
            var count = hostile ? random.Next(0, 4) : random.Next(1, 3);
            for (var i = 0; i < count; i++)
            {
                array.Add(schema.TryGetProperty("items", out var items) ? Value(items, depth + 1, hostile) : null);
            }

            return array;
        }

        private JsonObject Object(JsonElement schema, int depth, bool hostile)
        {
            var obj = new JsonObject();
            if (!schema.TryGetProperty("properties", out var properties))
            {
                return obj;
            }

            var required = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()).ToHashSet() : [];
            foreach (var property in properties.EnumerateObject())
            {
                var include = required.Contains(property.Name) ? !hostile || random.NextDouble() < 0.85 : random.NextDouble() < 0.6;
                if (include)
                {
                    obj[property.Name] = Value(property.Value, depth + 1, hostile);
                }
            }

            if (hostile && random.NextDouble() < 0.1)
            {
                obj["unexpected"] = Wrong();
            }

            return obj;
        }

        private JsonNode? Wrong() => random.Next(6) switch
        {
            0 => JsonValue.Create(Pick(NastyText)),
            1 => Pick(NastyNumbers)?.DeepClone(),
            2 => JsonValue.Create(true),
            3 => new JsonArray(JsonValue.Create("x"), JsonValue.Create(1)),
            4 => new JsonObject { ["deep"] = new JsonObject { ["deeper"] = JsonValue.Create("\0") } },
            _ => null,
        };

        private static List<string> TypesOf(JsonElement schema) =>
            !schema.TryGetProperty("type", out var type) ? []
            : type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList()
            : [type.GetString()!];

        private static string Text(JsonNode? node) => node switch
        {
            null => "",
            JsonValue value when value.TryGetValue<string>(out var s) => s,
            _ => node.ToJsonString(),
        };

        private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
    }
}
