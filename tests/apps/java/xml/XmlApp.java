// XML with the JDK alone (java.xml): a document parsed by DOM with external entities
// refused, queried by XPath, read again by SAX, and written out by a Transformer. Prints
// `ok xml: ...` and exits 0, or says what failed and exits 1.
import java.io.ByteArrayInputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.SAXParserFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.w3c.dom.Document;
import org.xml.sax.Attributes;
import org.xml.sax.helpers.DefaultHandler;

public final class XmlApp {
    static final String CONFIG = "<?xml version=\"1.0\"?>\n<board name=\"node1\">"
            + "<sensor id=\"adc0\" value=\"1\"/><sensor id=\"adc1\" value=\"2\"/>"
            + "<sensor id=\"adc2\" value=\"39\"/></board>";

    public static void main(String[] args) throws Exception {
        byte[] bytes = CONFIG.getBytes(StandardCharsets.UTF_8);
        DocumentBuilderFactory dom = DocumentBuilderFactory.newInstance();
        dom.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        dom.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        Document doc = dom.newDocumentBuilder().parse(new ByteArrayInputStream(bytes));
        double sum = (Double) XPathFactory.newInstance().newXPath()
                .evaluate("sum(/board/sensor/@value)", doc, XPathConstants.NUMBER);

        int[] sensors = {0};
        SAXParserFactory.newInstance().newSAXParser().parse(new ByteArrayInputStream(bytes), new DefaultHandler() {
            @Override
            public void startElement(String uri, String local, String qName, Attributes attrs) {
                if (qName.equals("sensor")) {
                    sensors[0]++;
                }
            }
        });

        StringWriter out = new StringWriter();
        var t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        t.transform(new DOMSource(doc), new StreamResult(out));

        if (sum != 42 || sensors[0] != 3 || !out.toString().startsWith("<board name=\"node1\">")) {
            System.out.println("FAIL xml: sum " + sum + ", " + sensors[0] + " sensors, written as " + out);
            System.exit(1);
        }
        System.out.println("ok xml: " + sensors[0] + " sensors of board node1 sum to " + (long) sum);
        // APP_IDLE=1: stay, as a service would, until stopped (tests/bench/templates.sh
        // reads the idle RSS of the app's process then).
        if (System.getenv("APP_IDLE") != null) {
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
