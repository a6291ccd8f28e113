package dev.rectifier;

/**
 * A backend could not do what was asked: it cannot be opened, a driver call failed, the device ran
 * out of memory. The message names the backend, what failed, the driver's own error string where
 * there is one, and what to do about it. Bad arguments are {@link IllegalArgumentException}s
 * instead.
 */
public class RectifierException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public RectifierException(String message) {
    super(message);
  }

  public RectifierException(String message, Throwable cause) {
    super(message, cause);
  }
}
