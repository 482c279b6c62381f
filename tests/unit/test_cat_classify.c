/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_classify on real-world samples: JSON lines, nested JSON, a top-level JSON
 * array, CSV with and without a header (and Glue's header rules), TSV, Apache combined and
 * common logs, syslog, timestamped application logs, XML, binary junk and compressed data;
 * custom Grok, JSON and CSV classifiers tried first in order, with their certainty; bad
 * definitions refused with the reason.
 */
#include "cat_classify.h"

#include <string.h>

#include "cat_hsdb.h"
#include "dp_test.h"

static struct cat_classifiers *builtin;

static int classify(const struct cat_classifiers *cl, const char *text,
		    struct cat_classification *out)
{
	return cat_classify_sample(cl, "sample", (const uint8_t *)text, strlen(text), out);
}

static const char *col_type(const struct cat_classification *c, const char *name)
{
	for (unsigned i = 0; i < c->n_columns; i++)
		if (strcmp(c->columns[i].name, name) == 0)
			return c->columns[i].type;
	return "(absent)";
}

static json_t *def(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	if (!j)
		printf("# bad JSON in test: %s\n", text);
	return j;
}

static const char apache_combined[] =
	"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
	"\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n"
	"192.168.1.20 - - [28/Jul/2006:10:27:10 -0300] \"GET /cgi-bin/try/ HTTP/1.0\" 200 3395 "
	"\"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n"
	"2001:db8::1 - - [28/Jul/2006:10:27:32 -0300] \"GET /hidden/ HTTP/1.0\" 404 - \"-\" "
	"\"curl/8.0\"\n";

static const char apache_common[] =
	"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326\n"
	"10.1.2.3 - - [10/Oct/2000:13:56:01 -0700] \"POST /login?next=/home HTTP/1.1\" 302 -\n";

static const char syslog_lines[] =
	"Mar  7 04:02:16 avas sshd[28712]: Accepted password for root from 10.0.0.1 port 22 ssh2\n"
	"Mar  7 04:02:17 avas CRON[28715]: (root) CMD (run-parts /etc/cron.hourly)\n"
	"Dec 31 23:59:59 db01.example.com kernel: [12345.678901] eth0: link up\n";

static void test_builtin_json_lines(void)
{
	struct cat_classification c;
	REQUIRE(classify(builtin, "{\"id\": 1, \"name\": \"a\", \"ok\": true, \"score\": 1.5}\n"
				  "{\"id\": 2, \"name\": \"b\", \"ok\": false, \"score\": 2}\n"
				  "{\"id\": 3, \"Name\": \"c\", \"tags\": [\"x\", \"y\"]}\n", &c) == 0);
	CHECK_STR(c.classification, "json");
	CHECK(c.certainty == 1.0);
	CHECK_EQ(c.records, 3);
	CHECK_STR(col_type(&c, "id"), "bigint");
	CHECK_STR(col_type(&c, "name"), "string");    /* "Name" folds into "name" */
	CHECK_STR(col_type(&c, "ok"), "boolean");
	CHECK_STR(col_type(&c, "score"), "double");   /* 1.5 and 2 widen to double */
	CHECK_STR(col_type(&c, "tags"), "array<string>");
	CHECK_EQ(c.n_columns, 5);
	cat_classification_clear(&c);
}

static void test_builtin_json_nested(void)
{
	struct cat_classification c;
	REQUIRE(classify(builtin,
			 "{\n  \"id\": \"10.1000/182\",\n  \"identifiers\": [\n"
			 "    {\"scheme\": \"doi\", \"identifier\": \"10.1000/182\"},\n"
			 "    {\"scheme\": \"isbn\", \"identifier\": \"978-3-16\"}\n  ],\n"
			 "  \"meta\": {\"pages\": 12, \"draft\": null, \"ratio\": 0.5}\n}\n", &c) == 0);
	CHECK_STR(c.classification, "json");
	CHECK(c.certainty == 1.0);
	CHECK_STR(col_type(&c, "identifiers"), "array<struct<scheme:string,identifier:string>>");
	CHECK_STR(col_type(&c, "meta"), "struct<pages:bigint,draft:string,ratio:double>");
	cat_classification_clear(&c);

	REQUIRE(classify(builtin, "[{\"a\": 1}, {\"a\": 2, \"b\": \"x\"}]", &c) == 0);
	CHECK_STR(c.classification, "json");
	CHECK_EQ(c.n_columns, 1);
	CHECK_STR(col_type(&c, "array"), "array<struct<a:bigint,b:string>>");
	cat_classification_clear(&c);
}

static void test_builtin_csv_header(void)
{
	struct cat_classification c;
	REQUIRE(classify(builtin, "Id,Name,Price,InStock,Updated\n"
				  "1,apple,0.5,true,2024-01-02\n"
				  "2,\"pear, green\",1.25,false,2024-01-03\n"
				  "3,\"say \"\"hi\"\"\",2,true,2024-01-04\n", &c) == 0);
	CHECK_STR(c.classification, "csv");
	CHECK(c.certainty == 1.0);
	CHECK(c.header);
	CHECK_EQ(c.delimiter, ',');
	CHECK_EQ(c.n_columns, 5);
	CHECK_STR(col_type(&c, "id"), "bigint");
	CHECK_STR(col_type(&c, "name"), "string");
	CHECK_STR(col_type(&c, "price"), "double");
	CHECK_STR(col_type(&c, "instock"), "boolean");
	CHECK_STR(col_type(&c, "updated"), "string");  /* dates stay strings, as in Glue */
	cat_classification_clear(&c);
}

static void test_builtin_csv_no_header(void)
{
	struct cat_classification c;
	/* Every field a string: Glue cannot tell a header from data, so there is none. */
	REQUIRE(classify(builtin, "alpha|beta|gamma\ndelta|epsilon|zeta\neta|theta|iota\n", &c) == 0);
	CHECK_STR(c.classification, "csv");
	CHECK(c.certainty == 1.0);
	CHECK(!c.header);
	CHECK_EQ(c.delimiter, '|');
	CHECK_EQ(c.n_columns, 3);
	CHECK_STR(c.columns[0].name, "col0");
	CHECK_STR(c.columns[2].name, "col2");
	cat_classification_clear(&c);

	/* Numbers in the first row: not a header. */
	REQUIRE(classify(builtin, "1\t2.5\tx\n2\t3\ty\n", &c) == 0);
	CHECK_STR(c.classification, "csv");
	CHECK_EQ(c.delimiter, '\t');
	CHECK(!c.header);
	CHECK_STR(col_type(&c, "col0"), "bigint");
	CHECK_STR(col_type(&c, "col1"), "double");
	cat_classification_clear(&c);

	/* One column, or one row: not CSV by Glue's rules. */
	REQUIRE(classify(builtin, "just\nwords\nhere\n", &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	CHECK(c.certainty == 0.0);
	cat_classification_clear(&c);
	REQUIRE(classify(builtin, "a,b,c\n", &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	cat_classification_clear(&c);
	/* Ragged rows are not CSV. */
	REQUIRE(classify(builtin, "a,b,c\n1,2\n3,4,5,6\n", &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	cat_classification_clear(&c);
}

static void test_builtin_logs(void)
{
	struct cat_classification c;
	REQUIRE(classify(builtin, apache_combined, &c) == 0);
	CHECK_STR(c.classification, "combined_apache");
	CHECK(c.certainty == 1.0);
	CHECK_EQ(c.records, 3);
	CHECK_STR(col_type(&c, "clientip"), "string");
	CHECK_STR(col_type(&c, "agent"), "string");
	CHECK_STR(col_type(&c, "response"), "string");
	cat_classification_clear(&c);

	REQUIRE(classify(builtin, apache_common, &c) == 0);
	CHECK_STR(c.classification, "apache");
	CHECK(c.certainty == 1.0);
	CHECK_STR(col_type(&c, "referrer"), "(absent)");
	cat_classification_clear(&c);

	REQUIRE(classify(builtin, syslog_lines, &c) == 0);
	CHECK_STR(c.classification, "syslog");
	CHECK(c.certainty == 1.0);
	CHECK_STR(col_type(&c, "program"), "string");
	CHECK_STR(col_type(&c, "message"), "string");
	cat_classification_clear(&c);

	REQUIRE(classify(builtin, "2024-05-01T12:00:00.123Z INFO server started on :8080\n"
				  "2024-05-01 12:00:01,456 [WARN] disk 91% full\n"
				  "2024-05-01T12:00:02+02:00 something happened\n", &c) == 0);
	CHECK_STR(c.classification, "log");
	CHECK_STR(col_type(&c, "loglevel"), "string");
	cat_classification_clear(&c);

	/* One line that is no log at all: nothing is sure. */
	REQUIRE(classify(builtin, "Mar  7 04:02:16 avas sshd[28712]: ok\nnot a log line\n", &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	cat_classification_clear(&c);

	/* A last line cut off by the sampler does not count against the file. */
	REQUIRE(classify(builtin, "Mar  7 04:02:16 avas sshd[28712]: ok\nMar  7 04:02:17 av", &c) == 0);
	CHECK_STR(c.classification, "syslog");
	cat_classification_clear(&c);
}

static void test_builtin_binary_and_magic(void)
{
	struct cat_classification c;
	uint8_t junk[4096];
	dp_test_fill(7, junk, sizeof(junk));
	REQUIRE(cat_classify_sample(builtin, "x.bin", junk, sizeof(junk), &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	CHECK(c.certainty == 0.0);
	CHECK_EQ(c.n_columns, 0);
	cat_classification_clear(&c);

	/* Text with a NUL byte is binary, whatever else it holds. */
	static const char nul[] = "{\"a\":1}\n\0{\"a\":2}\n";
	REQUIRE(cat_classify_sample(builtin, NULL, (const uint8_t *)nul, sizeof(nul) - 1, &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	cat_classification_clear(&c);

	static const uint8_t gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00 };
	REQUIRE(cat_classify_sample(builtin, "a.gz", gz, sizeof(gz), &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	CHECK_STR(c.compression, "gzip");
	cat_classification_clear(&c);

	REQUIRE(classify(builtin, "PAR1\x15\x04\x15", &c) == 0);
	CHECK_STR(c.classification, "parquet");
	CHECK(c.certainty == 1.0);
	cat_classification_clear(&c);

	/* Text that starts like a format's magic is still text. */
	REQUIRE(classify(builtin, "ORCHARD,1\nPEAR,2\n", &c) == 0);
	CHECK_STR(c.classification, "csv");
	cat_classification_clear(&c);

	REQUIRE(cat_classify_sample(builtin, NULL, (const uint8_t *)"", 0, &c) == 0);
	CHECK_STR(c.classification, "UNKNOWN");
	cat_classification_clear(&c);

	REQUIRE(classify(builtin, "<?xml version=\"1.0\"?>\n<rows><row><a>1</a></row></rows>\n",
			 &c) == 0);
	CHECK_STR(c.classification, "xml");
	cat_classification_clear(&c);
}

static void test_custom_first_in_order(void)
{
	json_t *d[3] = {
		def("{\"GrokClassifier\": {\"Name\": \"never\", \"Classification\": \"nope\", "
		    "\"GrokPattern\": \"NEVER %{WORD:w}\"}}"),
		def("{\"GrokClassifier\": {\"Name\": \"apps\", \"Classification\": \"applog\", "
		    "\"GrokPattern\": \"%{APPTS:ts} %{LOGLEVEL:level} \\\\[%{WORD:mod}\\\\] "
		    "id=%{INT:id:int} took=%{NUMBER:ms:double}ms\", "
		    "\"CustomPatterns\": \"# our timestamp\\nAPPTS %{YEAR}/%{MONTHNUM}/%{MONTHDAY} "
		    "%{TIME}\\n\"}}"),
		def("{\"CsvClassifier\": {\"Name\": \"semi\", \"Delimiter\": \";\", "
		    "\"ContainsHeader\": \"ABSENT\", \"Header\": [\"k\", \"v\"]}}"),
	};
	REQUIRE(d[0] && d[1] && d[2]);
	struct cat_classifiers *cl;
	char err[256];
	int r = cat_classifiers_new((const json_t *const *)d, 3, NULL, &cl, err, sizeof(err));
	if (r)
		printf("# %s\n", err);
	REQUIRE(r == 0);
	struct cat_classification c;
	REQUIRE(classify(cl, "2024/05/01 12:00:00 INFO [db] id=7 took=1.5ms\n"
			     "2024/05/01 12:00:01 ERROR [net] id=8 took=20ms\n", &c) == 0);
	CHECK_STR(c.classification, "applog");
	CHECK_STR(c.classifier, "apps");
	CHECK(c.certainty == 1.0);
	CHECK_STR(col_type(&c, "id"), "bigint");
	CHECK_STR(col_type(&c, "ms"), "double");
	CHECK_STR(col_type(&c, "level"), "string");
	cat_classification_clear(&c);

	/* Half the lines: certainty 0.5, and no built-in is sure, so the custom one wins. */
	REQUIRE(classify(cl, "2024/05/01 12:00:00 INFO [db] id=7 took=1.5ms\nsomething else\n",
			 &c) == 0);
	CHECK_STR(c.classification, "applog");
	CHECK(c.certainty == 0.5);
	cat_classification_clear(&c);

	/* The custom CSV (';', explicit header names) precedes the built-in one. */
	REQUIRE(classify(cl, "a;1\nb;2\n", &c) == 0);
	CHECK_STR(c.classifier, "semi");
	CHECK_STR(c.classification, "csv");
	CHECK_STR(col_type(&c, "k"), "string");
	CHECK_STR(col_type(&c, "v"), "bigint");
	cat_classification_clear(&c);

	/* Apache still goes to the built-in. */
	REQUIRE(classify(cl, apache_combined, &c) == 0);
	CHECK_STR(c.classification, "combined_apache");
	cat_classification_clear(&c);
	cat_classifiers_free(cl);
	for (int i = 0; i < 3; i++)
		json_decref(d[i]);
}

static void test_custom_json_path(void)
{
	json_t *d = def("{\"JsonClassifier\": {\"Name\": \"items\", \"JsonPath\": \"$.items[*]\"}}");
	struct cat_classifiers *cl;
	char err[256];
	REQUIRE(cat_classifiers_new((const json_t *const *)&d, 1, NULL, &cl, err, sizeof(err)) == 0);
	struct cat_classification c;
	REQUIRE(classify(cl, "{\"page\": 1, \"items\": [{\"sku\": \"a\", \"qty\": 2}, "
			     "{\"sku\": \"b\", \"qty\": 3, \"gift\": true}]}", &c) == 0);
	CHECK_STR(c.classifier, "items");
	CHECK_STR(c.classification, "json");
	CHECK(c.certainty == 1.0);
	CHECK_EQ(c.n_columns, 3);
	CHECK_STR(col_type(&c, "sku"), "string");
	CHECK_STR(col_type(&c, "qty"), "bigint");
	CHECK_STR(col_type(&c, "gift"), "boolean");
	cat_classification_clear(&c);
	/* No items member: the built-in JSON classifier answers instead. */
	REQUIRE(classify(cl, "{\"page\": 1}\n", &c) == 0);
	CHECK_STR(c.classifier, "json");
	CHECK_STR(col_type(&c, "page"), "bigint");
	cat_classification_clear(&c);
	cat_classifiers_free(cl);
	json_decref(d);
}

static int check_def(const char *text, char *err, size_t n)
{
	json_t *d = def(text);
	int r = cat_classifier_def_check(d, err, n);
	json_decref(d);
	return r;
}

static void test_bad_definitions(void)
{
	char err[512];
	CHECK_EQ(check_def("{\"GrokClassifier\": {\"Name\": \"g\", \"Classification\": \"c\", "
			   "\"GrokPattern\": \"%{NOSUCH:x} %{WORD}\"}}", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown pattern name NOSUCH at offset 0") != NULL);
	CHECK_EQ(check_def("{\"GrokClassifier\": {\"Name\": \"g\", \"Classification\": \"c\", "
			   "\"GrokPattern\": \"%{A}\", \"CustomPatterns\": \"A x(?=y)\"}}", err,
			   sizeof(err)), 0);
	CHECK_EQ(check_def("{\"GrokClassifier\": {\"Name\": \"g\", \"Classification\": \"c\", "
			   "\"GrokPattern\": \"%{A}\", \"CustomPatterns\": \"A (?R)?x\"}}", err,
			   sizeof(err)), -EINVAL);
	CHECK(strstr(err, "recursion (?R)") != NULL);
	CHECK_EQ(check_def("{\"JsonClassifier\": {\"Name\": \"j\", \"JsonPath\": \"items\"}}", err,
			   sizeof(err)), -EINVAL);
	CHECK(strstr(err, "JsonPath") != NULL);
	CHECK_EQ(check_def("{\"JsonClassifier\": {\"Name\": \"j\", \"JsonPath\": \"$.a[x]\"}}", err,
			   sizeof(err)), -EINVAL);
	CHECK(strstr(err, "offset 3") != NULL);
	CHECK_EQ(check_def("{\"CsvClassifier\": {\"Name\": \"c\", \"Delimiter\": \";;\"}}", err,
			   sizeof(err)), -EINVAL);
	CHECK(strstr(err, "Delimiter") != NULL);
	CHECK_EQ(check_def("{\"CsvClassifier\": {\"Name\": \"c\", \"Delimiter\": \"'\", "
			   "\"QuoteSymbol\": \"'\"}}", err, sizeof(err)), -EINVAL);
	CHECK_EQ(check_def("{\"CsvClassifier\": {\"Name\": \"c\", \"ContainsHeader\": \"MAYBE\"}}",
			   err, sizeof(err)), -EINVAL);
	CHECK_EQ(check_def("{\"XMLClassifier\": {\"Name\": \"x\", \"Classification\": \"xml\", "
			   "\"RowTag\": \"<row>\"}}", err, sizeof(err)), -EINVAL);
	CHECK_EQ(check_def("{\"GrokClassifier\": {}, \"CsvClassifier\": {}}", err, sizeof(err)),
		 -EINVAL);
	CHECK_EQ(check_def("{\"XMLClassifier\": {\"Name\": \"x\", \"Classification\": \"xml\", "
			   "\"RowTag\": \"row\"}}", err, sizeof(err)), 0);
	/* A set with a pattern the engine refuses names the classifier. */
	json_t *d[2] = {
		def("{\"GrokClassifier\": {\"Name\": \"fine\", \"Classification\": \"c\", "
		    "\"GrokPattern\": \"%{WORD}\"}}"),
		def("{\"GrokClassifier\": {\"Name\": \"callout\", \"Classification\": \"c\", "
		    "\"GrokPattern\": \"a(?C1)b\"}}"),
	};
	struct cat_classifiers *cl = NULL;
	CHECK_EQ(cat_classifiers_new((const json_t *const *)d, 2, NULL, &cl, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "classifier callout: a callout (?C)") != NULL);
	CHECK(cl == NULL);
	json_decref(d[0]);
	json_decref(d[1]);
}

static void test_custom_xml(void)
{
	json_t *d = def("{\"XMLClassifier\": {\"Name\": \"rows\", \"Classification\": \"xmlrows\", "
			"\"RowTag\": \"row\"}}");
	struct cat_classifiers *cl;
	char err[256];
	REQUIRE(cat_classifiers_new((const json_t *const *)&d, 1, NULL, &cl, err, sizeof(err)) == 0);
	struct cat_classification c;
	REQUIRE(classify(cl, "<rows><row id=\"1\"><a>x</a></row></rows>", &c) == 0);
	CHECK_STR(c.classification, "xmlrows");
	CHECK(c.certainty == 1.0);
	cat_classification_clear(&c);
	/* Glue does not parse a self-closing row element: the built-in XML answers. */
	REQUIRE(classify(cl, "<rows><row id=\"1\"/></rows>", &c) == 0);
	CHECK_STR(c.classification, "xml");
	CHECK_STR(c.classifier, "xml");
	cat_classification_clear(&c);
	cat_classifiers_free(cl);
	json_decref(d);
}

int main(void)
{
	char err[256];
	if (cat_classifiers_new(NULL, 0, NULL, &builtin, err, sizeof(err)) != 0) {
		printf("Bail out! built-in classifiers: %s\n", err);
		return 1;
	}
	DP_TEST_RUN(test_builtin_json_lines);
	DP_TEST_RUN(test_builtin_json_nested);
	DP_TEST_RUN(test_builtin_csv_header);
	DP_TEST_RUN(test_builtin_csv_no_header);
	DP_TEST_RUN(test_builtin_logs);
	DP_TEST_RUN(test_builtin_binary_and_magic);
	DP_TEST_RUN(test_custom_first_in_order);
	DP_TEST_RUN(test_custom_json_path);
	DP_TEST_RUN(test_custom_xml);
	DP_TEST_RUN(test_bad_definitions);
	cat_classifiers_free(builtin);
	return dp_test_done();
}
