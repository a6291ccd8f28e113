package dev.rectifier.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The dictionary of a {@code .npy} header, read as NumPy reads it ({@code ast.literal_eval}): a
 * Python dict literal whose keys are strings and whose values are strings, {@code True}/{@code
 * False} or tuples of whole numbers; nothing else (no names, calls or operators), and each key once
 * (Python would keep the last of two; a file that says two things is refused here). Written by hand
 * because it is twenty lines of grammar: no Java library reads Python literals, and the regular
 * expressions it replaces took the first of two keys and let a call through.
 */
final class NpyHeader {
  private final String text;
  private int at;

  private NpyHeader(String text) {
    this.text = text;
  }

  /** A key's value: a String, a Boolean, or a long[] for a tuple. */
  static Map<String, Object> parse(String header) {
    NpyHeader p = new NpyHeader(header);
    Map<String, Object> dict = p.dict();
    p.space();
    if (p.at != p.text.length()) throw p.wrong("text after the dict");
    return dict;
  }

  private Map<String, Object> dict() {
    expect('{');
    Map<String, Object> d = new LinkedHashMap<>();
    space();
    while (!peek('}')) {
      String key = string();
      if (d.containsKey(key)) {
        throw new IllegalArgumentException(
            "the key '" + dev.rectifier.spi.Text.excerpt(key) + "' is given twice");
      }
      expect(':');
      d.put(key, value());
      if (!peek('}')) expect(',');
    }
    expect('}');
    return d;
  }

  private Object value() {
    space();
    if (peek('\'') || peek('"')) return string();
    if (peek('(')) return tuple();
    if (word("True")) return Boolean.TRUE;
    if (word("False")) return Boolean.FALSE;
    throw wrong("a value that is not a string, True, False or a tuple of whole numbers");
  }

  private long[] tuple() {
    expect('(');
    List<Long> items = new ArrayList<>();
    boolean comma = false;
    while (!peek(')')) {
      items.add(whole());
      comma = peek(',');
      if (comma) at++;
      else if (!peek(')')) throw wrong("a tuple item that is not a whole number");
    }
    // Python: (3) is the number 3, not a tuple; (3,) is the tuple
    if (items.size() == 1 && !comma) throw wrong("a parenthesised number, not a tuple");
    expect(')');
    long[] t = new long[items.size()];
    for (int i = 0; i < t.length; i++) t[i] = items.get(i);
    return t;
  }

  private long whole() {
    space();
    int start = at;
    while (at < text.length() && text.charAt(at) >= '0' && text.charAt(at) <= '9') at++;
    if (at == start) throw wrong("a tuple item that is not a whole number");
    String digits = text.substring(start, at);
    if (at < text.length() && text.charAt(at) == 'L') at++; // Python 2's long, in old files
    space();
    try {
      return Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw wrong("a dimension past 64 bits");
    }
  }

  private String string() {
    space();
    if (!(peek('\'') || peek('"'))) throw wrong("a key that is not a string");
    char quote = text.charAt(at++);
    int start = at;
    while (at < text.length() && text.charAt(at) != quote) {
      if (text.charAt(at) == '\\') throw wrong("an escape in a string");
      at++;
    }
    if (at == text.length()) throw wrong("a string that does not end");
    String s = text.substring(start, at++);
    space();
    return s;
  }

  private boolean word(String w) {
    if (!text.startsWith(w, at)) return false;
    int end = at + w.length();
    if (end < text.length() && Character.isJavaIdentifierPart(text.charAt(end))) return false;
    at = end;
    space();
    return true;
  }

  private boolean peek(char c) {
    space();
    return at < text.length() && text.charAt(at) == c;
  }

  private void expect(char c) {
    if (!peek(c)) throw wrong("'" + c + "' expected");
    at++;
    space();
  }

  private void space() {
    while (at < text.length() && Character.isWhitespace(text.charAt(at))) at++;
  }

  private IllegalArgumentException wrong(String what) {
    return new IllegalArgumentException(what + " at character " + (at + 1));
  }
}
