package dev.rectifier.spi;

/** User text quoted in a one-line error message. */
public final class Text {
  private Text() {}

  /**
   * {@code text} with control characters escaped ({@code \u000a} for a newline) and cut to 60
   * characters with "...": an error that echoes what it was given stays one line and short,
   * whatever it was given (the fuzzers found both a newline in an {@code .npy} header and one in a
   * function's name).
   */
  public static String excerpt(String text) {
    StringBuilder b = new StringBuilder();
    int i = 0;
    for (; i < text.length() && b.length() < 60; i++) {
      char c = text.charAt(i);
      if (c < 0x20 || (c >= 0x7f && c < 0xa0)) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return i < text.length() ? b + "..." : b.toString();
  }
}
